"""`invoke doctor`'s netem advice fits the platform the engine's kernel is on."""
from __future__ import annotations

import pytest

from lab.impairment.platform_advice import engine_kernel_kind, netem_advice

UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=jammy\n'
MINT = 'NAME="Linux Mint"\nID=linuxmint\nID_LIKE="ubuntu debian"\n'
DEBIAN = 'ID=debian\nVERSION_CODENAME=bookworm\n'
FEDORA = 'ID=fedora\n'
ARCH = 'ID=arch\n'


@pytest.mark.parametrize("engine, system, host, kind", [
    ("5.15.153.1-microsoft-standard-WSL2", "Linux", "5.15.153.1-microsoft-standard-WSL2", "wsl"),
    ("6.10.14-linuxkit", "Darwin", "24.1.0", "desktop"),
    ("6.10.14-linuxkit", "Linux", "6.8.0-45-generic", "desktop"),     # Docker Desktop for Linux
    ("6.8.0-45-generic", "Darwin", "24.1.0", "vm"),                  # Colima's Ubuntu VM
    ("6.1.0-18-amd64", "Linux", "6.1.0-18-amd64", "host"),
])
def test_where_the_engine_kernel_is(engine, system, host, kind):
    assert engine_kernel_kind(engine, system, host) == kind


def test_wsl_has_no_extra_modules_package():
    advice = netem_advice("5.15.153.1-microsoft-standard-WSL2", "Linux", "5.15.153.1-microsoft-standard-WSL2", UBUNTU)
    assert "no extra-modules package" in advice and "linux-modules-extra" not in advice
    assert "userspace" in advice


def test_ubuntu_gets_linux_modules_extra_for_the_running_kernel():
    advice = netem_advice("6.8.0-45-generic", "Linux", "6.8.0-45-generic", UBUNTU)
    assert "linux-modules-extra-6.8.0-45-generic" in advice


def test_ubuntu_derivatives_too():
    assert "linux-modules-extra-6.8.0-45-generic" in netem_advice("6.8.0-45-generic", "Linux", "6.8.0-45-generic", MINT)


def test_debian_never_told_to_install_linux_modules_extra():
    advice = netem_advice("6.1.0-18-amd64", "Linux", "6.1.0-18-amd64", DEBIAN)
    assert "apt-get install linux-modules-extra" not in advice
    assert "linux-image" in advice and "modprobe sch_netem" in advice


def test_fedora_and_arch():
    assert "kernel-modules-extra" in netem_advice("6.11.4-301.fc41.x86_64", "Linux", "6.11.4-301.fc41.x86_64", FEDORA)
    assert "Arch" in netem_advice("6.11.5-arch1-1", "Linux", "6.11.5-arch1-1", ARCH)


def test_desktop_and_macos_point_at_the_vm_kernel_not_the_host():
    advice = netem_advice("6.10.14-linuxkit", "Darwin", "24.1.0", None)
    assert "Docker Desktop's VM" in advice and "nothing to install here" in advice
    assert "apt-get" not in advice
