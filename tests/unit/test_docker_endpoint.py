"""DOCKER_HOST and `docker context` resolved as the docker CLI does, from a temporary DOCKER_CONFIG."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from lab.engines import docker_endpoint
from lab.errors import EngineUnavailable


def make_context(config: Path, name: str, host: str, *, tls: bool = False, skip_verify: bool = False,
                 current: bool = True) -> Path:
    """The files `docker context create` writes (meta.json and, with TLS, the pem files)."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({
        "Name": name, "Metadata": {"Description": "test"},
        "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": skip_verify}}}))
    if current:
        (config / "config.json").write_text(json.dumps({"auths": {}, "currentContext": name}))
    tls_dir = config / "contexts" / "tls" / digest / "docker"
    if tls:
        tls_dir.mkdir(parents=True)
        for pem in ("ca.pem", "cert.pem", "key.pem"):
            (tls_dir / pem).write_text("-----BEGIN-----\n")
    return tls_dir


def test_no_config_is_the_sdk_default(tmp_path):
    endpoint = docker_endpoint.resolve({"DOCKER_CONFIG": str(tmp_path)})
    assert endpoint == docker_endpoint.Endpoint(None, "default")
    assert docker_endpoint.client_arguments(endpoint) == {}


def test_current_context_from_config_json(tmp_path):
    make_context(tmp_path, "colima", "unix:///Users/ann/.colima/default/docker.sock")
    endpoint = docker_endpoint.resolve({"DOCKER_CONFIG": str(tmp_path)})
    assert endpoint.host == "unix:///Users/ann/.colima/default/docker.sock"
    assert endpoint.source == "context colima"
    assert docker_endpoint.client_arguments(endpoint) == {"base_url": endpoint.host}


def test_docker_host_wins_over_the_context(tmp_path):
    make_context(tmp_path, "colima", "unix:///nowhere.sock")
    endpoint = docker_endpoint.resolve({"DOCKER_CONFIG": str(tmp_path), "DOCKER_HOST": "tcp://10.0.0.1:2375"})
    assert endpoint == docker_endpoint.Endpoint(None, "DOCKER_HOST")   # from_env reads it


def test_docker_context_variable_wins_over_config_json(tmp_path):
    make_context(tmp_path, "a", "unix:///a.sock")
    make_context(tmp_path, "b", "unix:///b.sock", current=False)
    endpoint = docker_endpoint.resolve({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "b"})
    assert endpoint.host == "unix:///b.sock"


def test_explicit_default_context(tmp_path):
    (tmp_path / "config.json").write_text('{"currentContext": "default"}')
    assert docker_endpoint.resolve({"DOCKER_CONFIG": str(tmp_path)}).host is None


def test_tls_material_of_the_context(tmp_path):
    tls_dir = make_context(tmp_path, "remote", "tcp://lab.example:2376", tls=True)
    endpoint = docker_endpoint.resolve({"DOCKER_CONFIG": str(tmp_path)})
    assert endpoint.tls_dir == tls_dir and not endpoint.skip_tls_verify
    arguments = docker_endpoint.client_arguments(endpoint)
    tls = arguments["tls"]
    assert arguments["base_url"] == "tcp://lab.example:2376"
    assert tls.cert == (str(tls_dir / "cert.pem"), str(tls_dir / "key.pem"))
    assert tls.ca_cert == str(tls_dir / "ca.pem") and tls.verify is True


def test_skip_tls_verify(tmp_path):
    make_context(tmp_path, "remote", "tcp://lab.example:2376", tls=True, skip_verify=True)
    tls = docker_endpoint.client_arguments(docker_endpoint.resolve({"DOCKER_CONFIG": str(tmp_path)}))["tls"]
    assert tls.verify is False


def test_ssh_context_uses_the_system_ssh(tmp_path):
    make_context(tmp_path, "box", "ssh://ann@box")
    arguments = docker_endpoint.client_arguments(docker_endpoint.resolve({"DOCKER_CONFIG": str(tmp_path)}))
    assert arguments == {"base_url": "ssh://ann@box", "use_ssh_client": True}


def test_a_context_without_metadata_says_how_to_recover(tmp_path):
    (tmp_path / "config.json").write_text('{"currentContext": "gone"}')
    with pytest.raises(EngineUnavailable, match="docker context use default"):
        docker_endpoint.resolve({"DOCKER_CONFIG": str(tmp_path)})


def test_unreadable_config_json_is_the_default(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    assert docker_endpoint.resolve({"DOCKER_CONFIG": str(tmp_path)}).source == "default"
