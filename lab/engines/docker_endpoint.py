"""Which Docker engine to talk to, resolved the way the `docker` CLI resolves it.

The Docker SDK's `from_env()` reads DOCKER_HOST but ignores `docker context`, so Docker Desktop
without /var/run/docker.sock, Colima, OrbStack and rootless Docker users — whose CLI works through
a context — got "no engine". Order, as the CLI: DOCKER_HOST; DOCKER_CONTEXT; `currentContext` of
$DOCKER_CONFIG/config.json (default ~/.docker); else the SDK's own default. A context's metadata
lives in contexts/meta/<sha256 of its name>/meta.json (Endpoints.docker.Host, SkipTLSVerify) and
its TLS material in contexts/tls/<same digest>/docker/{ca,cert,key}.pem. Part of the engine layer.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import EngineUnavailable

DEFAULT_CONTEXT = "default"


@dataclass(frozen=True)
class Endpoint:
    """Where the engine is, and where that answer came from (shown when it does not answer)."""

    host: str | None                 # None: the SDK's default (DOCKER_HOST or the local socket)
    source: str                      # "DOCKER_HOST", "context NAME", "default"
    tls_dir: Path | None = None      # holds ca.pem / cert.pem / key.pem, when the context has them
    skip_tls_verify: bool = False


def config_dir(environ: dict[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def current_context(environ: dict[str, str] | None = None) -> str:
    """DOCKER_CONTEXT, else config.json's currentContext, else "default"."""
    environ = os.environ if environ is None else environ
    if environ.get("DOCKER_CONTEXT"):
        return environ["DOCKER_CONTEXT"]
    try:
        config = json.loads((config_dir(environ) / "config.json").read_text())
    except (OSError, ValueError):
        return DEFAULT_CONTEXT
    return str(config.get("currentContext") or DEFAULT_CONTEXT)


def resolve(environ: dict[str, str] | None = None) -> Endpoint:
    """The endpoint the `docker` CLI would use in this environment."""
    environ = os.environ if environ is None else environ
    if environ.get("DOCKER_HOST"):
        return Endpoint(None, "DOCKER_HOST")       # the SDK reads it, with DOCKER_TLS_VERIFY/CERT_PATH
    name = current_context(environ)
    if name == DEFAULT_CONTEXT:
        return Endpoint(None, DEFAULT_CONTEXT)
    digest = hashlib.sha256(name.encode()).hexdigest()
    contexts = config_dir(environ) / "contexts"
    meta_file = contexts / "meta" / digest / "meta.json"
    try:
        meta = json.loads(meta_file.read_text())
        docker_endpoint = meta["Endpoints"]["docker"]
        host = str(docker_endpoint["Host"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise EngineUnavailable(
            f"the current docker context '{name}' has no readable endpoint in {meta_file} "
            f"({error.__class__.__name__}: {error}): `docker context ls` shows the contexts, "
            f"`docker context use default` goes back to the local engine") from None
    tls = contexts / "tls" / digest / "docker"
    return Endpoint(host, f"context {name}", tls if tls.is_dir() else None,
                    bool(docker_endpoint.get("SkipTLSVerify", False)))


def client_arguments(endpoint: Endpoint) -> dict[str, Any]:
    """Keyword arguments for `docker.DockerClient` (empty: let `docker.from_env()` decide)."""
    if endpoint.host is None:
        return {}
    arguments: dict[str, Any] = {"base_url": endpoint.host}
    if endpoint.tls_dir is not None:
        from docker.tls import TLSConfig

        def pem(name: str) -> str | None:
            path = endpoint.tls_dir / name  # type: ignore[operator]
            return str(path) if path.is_file() else None

        cert, key = pem("cert.pem"), pem("key.pem")
        arguments["tls"] = TLSConfig(client_cert=(cert, key) if cert and key else None,
                                     ca_cert=pem("ca.pem"), verify=not endpoint.skip_tls_verify)
    elif endpoint.host.startswith("ssh://"):
        arguments["use_ssh_client"] = True   # the system's ssh, as the CLI does; no paramiko needed
    return arguments


def docker_client(timeout: float) -> Any:
    """A `docker.DockerClient` for the endpoint the CLI would use (the engine's connect calls this)."""
    import docker

    arguments = client_arguments(resolve())
    if not arguments:
        return docker.from_env(timeout=timeout)
    return docker.DockerClient(timeout=timeout, **arguments)
