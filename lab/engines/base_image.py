"""Where the images' base comes from when no registry answers.

Real users pull a slim official Python image. Machines without a registry (CI here, air-gapped
classrooms) get the same images on top of a Debian/Ubuntu root file system that `mmdebstrap`
bootstraps from the host's own apt configuration, so no mirror name is ever written into socklab.
Everything here is pure: reading apt configuration and building the bootstrap command line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lab.errors import ImageBuildError

PULLED_BASE = "python:3.12-slim"
LOCAL_BASE_REPOSITORY = "socklab/base"
# Everything the apps and tools images need, preinstalled so that their Dockerfiles need no network.
BOOTSTRAP_PACKAGES = (
    "python3",
    "iproute2",
    "iptables",
    "nftables",
    "tcpdump",
    "procps",
    "kmod",
)


@dataclass(frozen=True)
class AptSource:
    """One apt repository entry: what mmdebstrap needs to fetch the host's own distribution."""

    uri: str
    suite: str
    components: tuple[str, ...]
    signed_by: str | None = None

    def deb822(self) -> str:
        lines = [
            "Types: deb",
            f"URIs: {self.uri}",
            f"Suites: {self.suite}",
            f"Components: {' '.join(self.components)}",
        ]
        if self.signed_by:
            lines.append(f"Signed-By: {self.signed_by}")
        return "\n".join(lines) + "\n"


def host_codename(os_release: str) -> str:
    """The distribution codename from /etc/os-release text (e.g. ``bookworm``, ``noble``)."""
    for key in ("VERSION_CODENAME", "UBUNTU_CODENAME"):
        match = re.search(rf"^{key}=\"?([a-z]+)\"?$", os_release, re.MULTILINE)
        if match:
            return match.group(1)
    raise ImageBuildError(
        "cannot tell this machine's distribution codename from /etc/os-release; "
        "the local base bootstrap needs a Debian or Ubuntu host (or a reachable registry)"
    )


def _belongs_to_distribution(suite: str, codename: str) -> bool:
    """True for the distribution's own suites (``bookworm``, ``bookworm-updates``, ...).

    Third-party repositories (``nodistro``, ``cloud-sdk-bookworm``) are left out: their keys and
    packages have no place in a base image.
    """
    return suite == codename or suite.startswith(codename + "-")


def parse_deb822(text: str, codename: str) -> list[AptSource]:
    """Sources of the host's distribution from a deb822 ``.sources`` file."""
    sources: list[AptSource] = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[0].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
            continue
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                if _belongs_to_distribution(suite, codename):
                    sources.append(
                        AptSource(uri, suite, tuple(fields.get("components", "main").split()),
                                  fields.get("signed-by"))
                    )
    return sources


def parse_one_line(text: str, codename: str) -> list[AptSource]:
    """Sources of the host's distribution from a one-line-style ``sources.list``."""
    sources: list[AptSource] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        signed_by = None
        options = re.match(r"deb\s+\[([^\]]*)\]\s+", line)
        if options:
            for option in options.group(1).split():
                if option.startswith("signed-by="):
                    signed_by = option.split("=", 1)[1]
            line = "deb " + line[options.end():]
        parts = line.split()
        if len(parts) >= 3 and _belongs_to_distribution(parts[2], codename):
            sources.append(AptSource(parts[1], parts[2], tuple(parts[3:]) or ("main",), signed_by))
    return sources


def host_apt_sources(etc_apt: Path = Path("/etc/apt"), os_release: Path = Path("/etc/os-release")
                     ) -> tuple[str, list[AptSource]]:
    """The codename and the distribution's own repositories, as this host's apt is configured."""
    if not os_release.exists():
        raise ImageBuildError("no /etc/os-release: the local base bootstrap needs a Debian or Ubuntu host")
    codename = host_codename(os_release.read_text())
    sources: list[AptSource] = []
    one_line = [etc_apt / "sources.list", *sorted((etc_apt / "sources.list.d").glob("*.list"))]
    for path in one_line:
        if path.is_file():
            sources += parse_one_line(path.read_text(), codename)
    for path in sorted((etc_apt / "sources.list.d").glob("*.sources")):
        sources += parse_deb822(path.read_text(), codename)
    if not sources:
        raise ImageBuildError(
            f"found no apt repository for '{codename}' in {etc_apt}; the local base bootstrap "
            "fetches packages from the host's own apt repositories"
        )
    return codename, sources


def local_base_tag(codename: str) -> str:
    """Tag of the locally bootstrapped base, one per distribution release."""
    return f"{LOCAL_BASE_REPOSITORY}:{codename}"


def mmdebstrap_argv(codename: str, sources_file: Path, output_tar: Path,
                    packages: tuple[str, ...] = BOOTSTRAP_PACKAGES) -> list[str]:
    """The bootstrap command: a minimal root file system as a tarball that `docker import` takes.

    >>> mmdebstrap_argv("bookworm", Path("/tmp/s.sources"), Path("/tmp/b.tar"))[:3]
    ['mmdebstrap', '--variant=minbase', '--include=python3,iproute2,iptables,nftables,tcpdump,procps,kmod']
    """
    return [
        "mmdebstrap",
        "--variant=minbase",
        "--include=" + ",".join(packages),
        "--format=tar",
        # Keep the image small: no documentation, no apt lists (the images need no apt at build).
        "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-exclude=/usr/share/man/*",
        "--dpkgopt=path-exclude=/usr/share/locale/*",
        "--customize-hook=rm -rf \"$1\"/var/lib/apt/lists/* \"$1\"/var/cache/apt/*.bin",
        codename,
        str(output_tar),
        str(sources_file),
    ]


@dataclass(frozen=True)
class HostFacts:
    """What the base image choice needs to know about this machine, read once and injectable.

    Reading them never fails: a host without /etc/os-release (macOS) or without apt (Fedora, Arch)
    is a fact, not an error — it only matters when the pull of the official base has failed.
    """

    system: str                   # platform.system(): Linux, Darwin, Windows
    os_release: str | None        # text of /etc/os-release, None when absent
    has_apt: bool                 # apt-get on PATH and /etc/apt present
    etc_apt: Path = Path("/etc/apt")
    os_release_path: Path = Path("/etc/os-release")

    @classmethod
    def of_this_machine(cls) -> HostFacts:
        import platform
        import shutil

        path = Path("/etc/os-release")
        try:
            text: str | None = path.read_text()
        except OSError:
            text = None
        etc_apt = Path("/etc/apt")
        return cls(platform.system(), text, shutil.which("apt-get") is not None and etc_apt.is_dir(),
                   etc_apt, path)

    @property
    def codename(self) -> str | None:
        """The distribution codename, or None when the host is not a Debian-like Linux."""
        if self.os_release is None:
            return None
        try:
            return host_codename(self.os_release)
        except ImageBuildError:
            return None

    @property
    def distribution(self) -> str:
        """`ID=` of os-release (``debian``, ``ubuntu``, ``fedora``...), "" when unknown."""
        match = re.search(r"^ID=\"?([^\"\n]*)\"?$", self.os_release or "", re.MULTILINE)
        return match.group(1).strip() if match else ""

    @property
    def can_bootstrap(self) -> bool:
        """A local base can be made here only from a Debian/Ubuntu host's own apt repositories."""
        return self.system == "Linux" and self.has_apt and self.codename is not None


def no_base_advice(host: HostFacts, reason: str) -> str:
    """Exactly what to do when the official base cannot be pulled and no local base can be made."""
    pull = (f"the base image {PULLED_BASE} cannot be pulled ({reason}), and ")
    own = ("or give socklab a base your engine already has: SOCKLAB_BASE_IMAGE=IMAGE invoke build "
           f"(any image with python3 and {', '.join(BOOTSTRAP_PACKAGES[1:])})")
    if host.system in ("Darwin", "Windows"):
        return (pull + "a local base is bootstrapped only on a Debian/Ubuntu Linux host. With Docker "
                f"Desktop: let Desktop reach Docker Hub (sign in, check its proxy settings) or "
                f"`docker pull {PULLED_BASE}` / `docker load -i FILE` it yourself, then "
                f"`invoke build` again; {own}")
    name = host.distribution or "this distribution"
    why = (f"{name} has no apt" if not host.has_apt else
           f"{name} gives no Debian/Ubuntu codename in {host.os_release_path}")
    return (pull + f"{why}, which the local bootstrap (mmdebstrap from the host's own "
            f"Debian/Ubuntu repositories) needs. Make the pull work (`docker pull {PULLED_BASE}`, "
            f"check the engine's proxy/registry mirror settings), or `docker load -i FILE` an export "
            f"of {PULLED_BASE} made elsewhere, then `invoke build` again; {own}")
