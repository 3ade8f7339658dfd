"""What to do about a missing sch_netem, for the platform the engine's kernel really is.

netem is a kernel module of the kernel the *engine* runs on, which is not always the host's: Docker
Desktop (macOS, Windows, Linux) runs its engine in a LinuxKit VM, WSL2 in Microsoft's kernel,
Colima/OrbStack in their own VMs. Package names differ by distribution, and several advice lines
users find online are wrong for theirs: Debian has no linux-modules-extra (its linux-image-*
package ships sch_netem itself); Ubuntu keeps it in linux-modules-extra-$(uname -r); Fedora/RHEL in
kernel-modules-extra; WSL kernels have no modules package at all. Pure: facts in, one line out.
"""
from __future__ import annotations

import re

USERSPACE = "meanwhile `--impair-backend auto` uses the userspace backend, which needs nothing"


def os_release_id(os_release: str | None) -> tuple[str, str]:
    """(ID, ID_LIKE) from /etc/os-release text, lower case, "" when absent."""
    def field(key: str) -> str:
        match = re.search(rf"^{key}=\"?([^\"\n]*)\"?$", os_release or "", re.MULTILINE)
        return match.group(1).strip().lower() if match else ""
    return field("ID"), field("ID_LIKE")


def engine_kernel_kind(engine_kernel: str, host_system: str, host_kernel: str) -> str:
    """Where the engine's kernel is: wsl | desktop | vm | host."""
    release = engine_kernel.lower()
    if "microsoft" in release or "wsl" in release:
        return "wsl"
    if "linuxkit" in release:
        return "desktop"
    if host_system != "Linux" or engine_kernel.strip() != host_kernel.strip():
        return "vm"
    return "host"


def netem_advice(engine_kernel: str, host_system: str, host_kernel: str, os_release: str | None) -> str:
    """One sentence: how to get sch_netem where the engine's kernel runs (or why not to bother)."""
    kind = engine_kernel_kind(engine_kernel, host_system, host_kernel)
    if kind == "wsl":
        return (f"the engine runs on WSL2's kernel ({engine_kernel}); WSL kernels have no extra-modules "
                "package to install. Newer WSL kernels may have netem (`wsl --update` in Windows, then "
                "`sudo modprobe sch_netem`); otherwise only a custom kernel (.wslconfig `kernel=`, built "
                f"with CONFIG_NET_SCH_NETEM) brings it; {USERSPACE}")
    if kind == "desktop":
        return (f"the engine runs in Docker Desktop's VM (kernel {engine_kernel}), not on this host: nothing "
                "to install here; netem comes with the VM's kernel (update Docker Desktop); "
                f"{USERSPACE}")
    if kind == "vm":
        return (f"the engine's kernel ({engine_kernel}) is not this host's ({host_kernel or host_system}): "
                "it runs in a VM or on another machine (Colima, OrbStack, a remote context); load netem "
                f"there (`modprobe sch_netem` inside that VM/machine); {USERSPACE}")
    distro, like = os_release_id(os_release)
    family = f"{distro} {like}"
    if distro == "ubuntu" or "ubuntu" in like:
        return (f"Ubuntu keeps sch_netem in linux-modules-extra: sudo apt-get install "
                f"linux-modules-extra-{engine_kernel} && sudo modprobe sch_netem; {USERSPACE}")
    if "debian" in family:
        return ("Debian's kernel packages (linux-image-*) ship sch_netem themselves (there is no "
                "linux-modules-extra on Debian): sudo modprobe sch_netem; if modprobe cannot find it, "
                f"this kernel ({engine_kernel}) is not a stock Debian one (a custom or provider kernel "
                f"built without CONFIG_NET_SCH_NETEM); {USERSPACE}")
    if any(name in family for name in ("fedora", "rhel", "centos", "rocky", "almalinux")):
        return (f"sudo dnf install kernel-modules-extra-{engine_kernel} && sudo modprobe sch_netem; "
                f"{USERSPACE}")
    if "arch" in family:
        return ("Arch's kernel package ships sch_netem: sudo modprobe sch_netem (after a kernel update, "
                f"reboot first so the modules match the running kernel); {USERSPACE}")
    return (f"load it on the Docker host: sudo modprobe sch_netem (your distribution may package it "
            f"separately, e.g. an extra-modules package); {USERSPACE}")
