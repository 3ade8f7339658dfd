"""bootstrap's decisions on machines we cannot reinstall: `./bootstrap --plan` run with fakes of
docker, dpkg-query, id, uname, apt-get and python3 on a PATH that holds nothing else (plus the few
text tools bash needs), /proc/version and /etc/os-release replaced by files."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ("dirname", "grep", "sed", "head", "cat", "env")

FAKES = {
    "uname": 'case "$1" in -s) echo "${FAKE_SYSTEM:-Linux}";; -m) echo "${FAKE_MACHINE:-x86_64}";; *) echo Linux;; esac',
    "id": 'echo "${FAKE_UID:-0}"',
    "docker": '''case "$1" in
  info) [ "${FAKE_ENGINE:-no}" = yes ];;
  compose) [ "${FAKE_COMPOSE:-no}" = yes ];;
  *) exit 1;;
esac''',
    # installed packages: the words of $FAKE_INSTALLED
    "dpkg-query": '''p="${@: -1}"
for i in ${FAKE_INSTALLED:-}; do [ "$i" = "$p" ] && { printf 'install ok installed'; exit 0; }; done
exit 1''',
    "python3": '''case "$*" in
  *version_info*) [ "${FAKE_PYTHON:-ok}" != old ];;
  *ensurepip*) [ "${FAKE_PYTHON:-ok}" = ok ];;
  *) exit 1;;
esac''',
    "apt-get": "exit 0",
    "dockerd": "exit 0",
}
DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n'
UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nVERSION_CODENAME=jammy\n'
FEDORA = 'NAME="Fedora Linux"\nID=fedora\n'
WSL_VERSION = "Linux version 5.15.153.1-microsoft-standard-WSL2 (root@host) #1 SMP\n"
NATIVE_VERSION = "Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) #1 SMP Debian\n"
ALL_OURS = "mmdebstrap iproute2 iptables nftables kmod docker-compose chromium qemu-system-x86 cpio zstd python3-venv"


def plan(tmp_path: Path, *, absent: tuple[str, ...] = ("dockerd",), os_release: str = DEBIAN,
         proc_version: str = NATIVE_VERSION, extra: dict[str, str] | None = None,
         **fake: str) -> dict[str, str]:
    """Run `bootstrap --plan` on a made-up machine; its key=value lines as a dict."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in TOOLS:
        (bin_dir / name).symlink_to(shutil.which(name))
    for name, body in {**FAKES, **(extra or {})}.items():
        if name not in absent:
            (bin_dir / name).write_text(f"#!{shutil.which('bash')}\n{body}\n")
            (bin_dir / name).chmod(0o755)
    (tmp_path / "os-release").write_text(os_release)
    (tmp_path / "version").write_text(proc_version)
    env = {"PATH": str(bin_dir), "SOCKLAB_OS_RELEASE": str(tmp_path / "os-release"),
           "SOCKLAB_PROC_VERSION": str(tmp_path / "version"), "HOME": str(tmp_path),
           **{f"FAKE_{k.upper()}": v for k, v in fake.items()}}
    done = subprocess.run([shutil.which("bash"), str(ROOT / "bootstrap"), "--plan"], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in done.stdout.splitlines())


def test_this_kind_of_machine_root_debian_engine_running(tmp_path):
    got = plan(tmp_path, engine="yes", installed="docker.io " + ALL_OURS, absent=())
    assert got["engine"] == "use" and got["install"] == "" and got["vm"] == "yes" and got["sudo"] == "no"


def test_fresh_debian_root_installs_docker_io_and_the_vm_tools(tmp_path):
    got = plan(tmp_path, absent=("dockerd", "docker"))
    assert got["engine"] == "install"
    assert got["install"].split() == ["docker.io", "mmdebstrap", "iproute2", "iptables", "nftables", "kmod",
                                      "docker-compose", "chromium", "qemu-system-x86", "cpio", "zstd"]


@pytest.mark.parametrize("package", ["docker-desktop", "moby-engine", "podman-docker", "docker-ce"])
def test_engine_packages_present_but_no_engine_answers_never_installs_docker_io(tmp_path, package):
    got = plan(tmp_path, installed=package, absent=("dockerd", "docker"))
    assert got["engine"].startswith("stop:") and package in got["engine_installed"]
    assert "docker.io" not in got["install"]
    assert "does not install docker.io" in got["engine"]


@pytest.mark.parametrize("package", ["docker-ce-cli", "moby-cli"])
def test_client_package_alone_says_to_install_the_engine_beside_it(tmp_path, package):
    # docker-ce-cli conflicts with docker.io (both ship /usr/bin/docker): the engine of its own family
    got = plan(tmp_path, installed=package, absent=("dockerd",))
    assert got["engine"].startswith("stop:") and got["client_package"] == package
    assert "docker-ce" in got["engine"] and "docker.io" not in got["install"]


def test_this_machine_fresh_cli_binary_from_no_package_installs_docker_io(tmp_path):
    # exactly this project's machine: Debian 12, root, apt, a docker 28 CLI binary on PATH that no
    # package installed, no Docker package, no dockerd, no engine. docker.io installs beside it.
    got = plan(tmp_path, absent=("dockerd",), installed="iproute2")
    assert got["client"] == "yes" and got["engine_installed"] == "" and got["client_package"] == ""
    assert got["engine"] == "install" and got["sudo"] == "no"
    assert got["install"].split() == ["docker.io", "mmdebstrap", "iptables", "nftables", "kmod",
                                      "docker-compose", "chromium", "qemu-system-x86", "cpio", "zstd"]


def test_a_podman_binary_is_an_engine_to_start_not_a_reason_to_install(tmp_path):
    got = plan(tmp_path, absent=("dockerd",), extra={"podman": "exit 0"})
    assert got["engine"].startswith("stop:") and "podman" in got["engine_installed"]
    assert "docker.io" not in got["install"]


def test_engine_that_answers_is_used_whatever_installed_it(tmp_path):
    # docker-ce (or Desktop, rootless, a context): `docker info` answers, nothing engine-related added
    got = plan(tmp_path, engine="yes", installed="docker-ce docker-ce-cli")
    assert got["engine"] == "use" and "docker.io" not in got["install"]


def test_root_with_an_installed_but_stopped_dockerd_starts_it(tmp_path):
    got = plan(tmp_path, absent=(), installed="docker-ce")
    assert got["engine"] == "start" and "docker.io" not in got["install"]


def test_wsl2_without_engine_points_at_docker_desktop(tmp_path):
    got = plan(tmp_path, absent=("dockerd", "docker"), proc_version=WSL_VERSION, os_release=UBUNTU)
    assert got["wsl"] == "yes"
    assert got["engine"].startswith("stop:") and "WSL integration" in got["engine"]
    assert "docker.io" not in got["install"]


def test_wsl2_with_desktop_integration_just_uses_it(tmp_path):
    got = plan(tmp_path, engine="yes", compose="yes", proc_version=WSL_VERSION, os_release=UBUNTU, uid="1000")
    assert got["engine"] == "use" and got["install"] == "" and got["sudo"] == "no"
    assert got["vm"] == "no:not root"


def test_non_root_with_an_engine_needs_no_sudo(tmp_path):
    got = plan(tmp_path, engine="yes", uid="1000")
    assert (got["engine"], got["install"], got["sudo"]) == ("use", "", "no")


def test_non_root_missing_venv_is_told_what_to_sudo(tmp_path):
    got = plan(tmp_path, engine="yes", uid="1000", python="novenv")
    assert (got["install"], got["sudo"]) == ("python3-venv", "yes")


def test_non_root_without_engine_is_told_to_sudo_bootstrap(tmp_path):
    got = plan(tmp_path, uid="1000", absent=("dockerd", "docker"))
    assert got["engine"].startswith("stop:") and "sudo ./bootstrap" in got["engine"]


def test_non_root_with_a_stopped_dockerd(tmp_path):
    got = plan(tmp_path, uid="1000", absent=())
    assert "docker group" in got["engine"]


def test_old_python_stops_with_the_versions(tmp_path):
    got = plan(tmp_path, engine="yes", python="old")
    assert got["engine"].startswith("stop:") and "3.10" in got["engine"]


@pytest.mark.parametrize("facts, reason", [
    ({"uid": "1000", "engine": "yes"}, "not root"),
    ({"machine": "aarch64", "engine": "yes"}, "aarch64 is not x86_64"),
    ({"os_release": UBUNTU, "engine": "yes"}, "Debian's"),
    ({"os_release": FEDORA, "engine": "yes", "absent": ("dockerd", "apt-get")}, "no apt"),
])
def test_vm_tools_only_where_the_vm_test_can_run(tmp_path, facts, reason):
    got = plan(tmp_path, **facts)
    assert got["vm"].startswith("no:") and reason in got["vm"]
    assert not {"qemu-system-x86", "cpio", "zstd"} & set(got["install"].split())


def test_fedora_root_with_engine_needs_nothing_from_apt(tmp_path):
    got = plan(tmp_path, os_release=FEDORA, engine="yes", absent=("dockerd", "apt-get", "dpkg-query"))
    assert (got["engine"], got["install"], got["apt"]) == ("use", "", "no")


def test_fedora_without_engine_says_how_to_get_one(tmp_path):
    got = plan(tmp_path, os_release=FEDORA, absent=("dockerd", "apt-get", "dpkg-query", "docker"))
    assert got["engine"].startswith("stop:") and "dnf install moby-engine" in got["engine"]


def test_macos_without_engine_points_at_desktop(tmp_path):
    got = plan(tmp_path, system="Darwin", absent=("dockerd", "apt-get", "dpkg-query", "docker"), os_release="")
    assert got["engine"].startswith("stop:") and "Docker Desktop" in got["engine"]


def test_bootstrap_stops_with_exit_3_and_the_advice(tmp_path):
    """Not only the plan: the real run stops before changing anything (PATH has no apt to run)."""
    plan(tmp_path, absent=("dockerd", "docker"), proc_version=WSL_VERSION)   # builds the fake machine
    env = {"PATH": str(tmp_path / "bin"), "SOCKLAB_OS_RELEASE": str(tmp_path / "os-release"),
           "SOCKLAB_PROC_VERSION": str(tmp_path / "version"), "HOME": str(tmp_path)}
    done = subprocess.run([shutil.which("bash"), str(ROOT / "bootstrap")], env=env, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 3 and "WSL integration" in done.stderr
    assert not (ROOT / ".venv-should-not-exist").exists()
