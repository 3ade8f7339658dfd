"""Build (once) and cache the guest that exercises the netem backend: a stock Debian kernel and an
initramfs holding a small Debian with python3, iproute2, kmod and mount, plus the few kernel modules that
traffic control needs.

Why a VM: the kernel of the machines that run socklab's CI has no `sch_netem`, yet the netem
backend is what most users get. Debian's stock kernel ships the module, so we boot it in qemu.

Everything is fetched with the host's own apt configuration: the kernel package with
`apt-get download` (into a scratch folder, then unpacked with `dpkg-deb -x`: never installed on
the host, so the host's kernel, boot files and initramfs hooks are left alone), the root file
system with `mmdebstrap` given a temporary `.sources` file holding the host's own repositories as
`lab.engines.base_image.host_apt_sources()` reads them (deb822 or one-line `sources.list`). No mirror is
named here.

The kernel package is Debian's `linux-image-amd64`, so only a Debian host (ID=debian in
/etc/os-release) can build the image; elsewhere (e.g. Ubuntu) `build_image()` raises
`VmUnavailable` saying so.

The cache (default `~/.cache/socklab/netem-vm/`, or `$SOCKLAB_CACHE/netem-vm/`) keeps:

    vmlinuz-<kver>              the kernel
    base-<key>.cpio.<zst|gz>    the initramfs: Debian + modules, no socklab code
    manifest.json               what the current build is, keyed by the recipe

The socklab-specific part (/init, the guest scripts, the plan of cases) is not in the base image:
`vm.py` prepends a small uncompressed cpio to it on each run, so editing the guest scripts never
forces a rebuild. A second call with the same recipe only reads the manifest.

Run by hand: `.venv/bin/python -m tests.netem_vm.build [--rebuild]`.
"""
from __future__ import annotations

import dataclasses
import fcntl
import gzip
import hashlib
import io
import json
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from lab.engines.base_image import AptSource, host_apt_sources
from lab.errors import ImageBuildError

from .cpio import CpioWriter

log = logging.getLogger(__name__)

OS_RELEASE = Path("/etc/os-release")
KERNEL_META_PACKAGE = "linux-image-amd64"  # Debian's; the reason the build needs a Debian host
GUEST_PACKAGES = ("python3", "iproute2", "kmod", "mount")
# Traffic control needs these; their dependencies (none today) are added from the modules' own
# `depends=` field. cls_u32 and act_gact cover the filter forms tc examples commonly use.
GUEST_MODULES = ("veth", "sch_netem", "ifb", "act_mirred", "cls_matchall", "sch_ingress",
                 "cls_u32", "act_gact")
# Paths dropped from the root file system: documentation, apt state, and what the guest never runs.
_EXCLUDE = re.compile(r"^(usr/share/(doc|man|info|locale|lintian|bash-completion)/|"
                      r"var/cache/apt/.|var/lib/apt/lists/.|var/log/.|usr/lib/python3\.\d+/test/|"
                      r"usr/lib/python3/dist-packages/|usr/share/python3/debian_defaults)")
# Bump when the layout of the image changes in a way the parameters below do not capture.
RECIPE_VERSION = 1


class VmUnavailable(RuntimeError):
    """qemu, mmdebstrap or the kernel package cannot be had on this machine."""


@dataclasses.dataclass(frozen=True)
class VmImage:
    kernel: Path
    initrd: Path
    kernel_version: str
    build_seconds: float
    cached: bool


def cache_root() -> Path:
    base = os.environ.get("SOCKLAB_CACHE")
    root = Path(base) if base else Path.home() / ".cache" / "socklab"
    return root / "netem-vm"


def distribution_id(os_release: Path = OS_RELEASE) -> str:
    """The `ID=` of /etc/os-release (`debian`, `ubuntu`, ...), or "" when there is none."""
    try:
        text = os_release.read_text()
    except OSError:
        return ""
    match = re.search(r"^ID=\"?([^\"\n]*)\"?$", text, re.MULTILINE)
    return match.group(1).strip() if match else ""


def kernel_meta_package(os_release: Path = OS_RELEASE) -> str:
    """The guest kernel's meta package for this host's apt, or VmUnavailable if it has none.

    Only Debian's apt has `linux-image-amd64` (Ubuntu's kernels are packaged differently, with
    sch_netem in linux-modules-extra), so other distributions are refused with the reason.
    """
    distro = distribution_id(os_release)
    if distro != "debian":
        raise VmUnavailable(
            f"the guest kernel is Debian's {KERNEL_META_PACKAGE}, which only a Debian host's apt "
            f"can fetch; this host is {distro or 'of unknown distribution'} (ID= in {os_release})")
    return KERNEL_META_PACKAGE


def _host_apt() -> tuple[str, list[AptSource]]:
    """The host's codename and its distribution's own apt repositories."""
    try:
        return host_apt_sources()
    except ImageBuildError as exc:
        raise VmUnavailable(str(exc)) from exc


def _recipe(codename: str, kernel_package: str) -> dict:
    return {"version": RECIPE_VERSION, "suite": codename, "packages": list(GUEST_PACKAGES),
            "modules": list(GUEST_MODULES), "kernel": kernel_package}


def _recipe_key(recipe: dict) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def _run(argv: list[str], cwd: Path | None = None) -> str:
    log.debug("run %s", argv)
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, argv, proc.stdout, proc.stderr)
    return proc.stdout


def _apt_download(spec: str, dest: Path) -> Path:
    """`apt-get download` one package (`name` or `name=version`) into `dest`; its .deb path."""
    name = spec.split("=")[0]
    for old in dest.glob(f"{name}_*.deb"):
        old.unlink()
    try:
        _run(["apt-get", "download", "-q", spec], cwd=dest)
    except FileNotFoundError as exc:
        raise VmUnavailable("apt-get is not installed") from exc
    except subprocess.CalledProcessError as exc:
        raise VmUnavailable(f"apt-get download {spec} failed (run `apt-get update` first?): "
                            f"{exc.stderr.strip()}") from exc
    debs = list(dest.glob(f"{name}_*.deb"))
    if len(debs) != 1:
        raise VmUnavailable(f"apt-get download {spec} left {len(debs)} .deb files in {dest}")
    return debs[0]


def fetch_kernel(debs: Path, meta_package: str = KERNEL_META_PACKAGE) -> Path:
    """Download the image package that the meta package points at; returns its .deb."""
    debs.mkdir(parents=True, exist_ok=True)
    meta = _apt_download(meta_package, debs)
    depends = _run(["dpkg-deb", "-f", str(meta), "Depends"])
    match = re.search(r"(linux-image-[0-9][^\s,(]*)\s*\(=\s*([^)\s]+)\)", depends)
    if not match:
        raise VmUnavailable(f"{meta.name}: unexpected Depends {depends!r}")
    return _apt_download(f"{match.group(1)}={match.group(2)}", debs)


def _module_depends(ko: bytes) -> list[str]:
    match = re.search(rb"(?:^|\0)depends=([^\0]*)\0", ko)
    return [m for m in match.group(1).decode().split(",") if m] if match else []


def module_closure(modroot: Path, wanted: tuple[str, ...]) -> dict[str, Path]:
    """Name → .ko path for `wanted` and everything they depend on (in load order)."""
    index = {}
    for ko in modroot.rglob("*.ko*"):
        index[ko.name.split(".ko")[0].replace("-", "_")] = ko
    ordered: dict[str, Path] = {}

    def visit(name: str) -> None:
        key = name.replace("-", "_")
        if key in ordered:
            return
        if key not in index:
            raise VmUnavailable(f"kernel package has no module {name}")
        for dep in _module_depends(index[key].read_bytes()):
            visit(dep)
        ordered[key] = index[key]

    for name in wanted:
        visit(name)
    return ordered


def _bootstrap_tar(suite: str, sources: list[AptSource], out: Path) -> None:
    """mmdebstrap a root file system tar at `out` from `sources`, the host's own repositories
    (written next to `out` as a deb822 `.sources` file, which goes with the build folder)."""
    if not shutil.which("mmdebstrap"):
        raise VmUnavailable("mmdebstrap is not installed (apt-get install mmdebstrap)")
    sources_file = out.parent / "host.sources"  # mmdebstrap tells the format by the extension
    sources_file.write_text("\n".join(source.deb822() for source in sources))
    argv = ["mmdebstrap", "--quiet", "--variant=essential",
            "--include=" + ",".join(GUEST_PACKAGES),
            *(f"--dpkgopt=path-exclude=/usr/share/{d}/*" for d in ("doc", "man", "info", "locale")),
            "--format=tar", suite, str(out), str(sources_file)]
    try:
        _run(argv)
    except subprocess.CalledProcessError as exc:
        message = f"mmdebstrap failed:\n{exc.stderr[-4000:]}"
        if os.geteuid() != 0:  # unshare mode needs user namespaces, which may be disabled
            raise VmUnavailable(f"not root, and {message}") from exc
        raise RuntimeError(message) from exc


def _compressor() -> tuple[str, list[str] | None]:
    """zstd when the host has it (the guest unpacks it faster under emulation), gzip otherwise."""
    return ("zst", ["zstd", "-q", "-T0", "-6", "-c"]) if shutil.which("zstd") else ("gz", None)


def _pack(rootfs_tar: Path, modules: dict[str, Path], modroot: Path, kver: str,
          out: Path) -> None:
    """Convert the bootstrap tar into a compressed newc cpio, adding the kernel modules."""
    raw = io.BytesIO()
    cpio = CpioWriter(raw)
    lib_is_link = False
    with tarfile.open(rootfs_tar) as tar:
        for member in tar:
            name = member.name.removeprefix("./").rstrip("/")
            if not name or _EXCLUDE.match(name + ("/" if member.isdir() else "")):
                continue
            mtime = int(member.mtime)
            if member.isdir():
                cpio.add_dir(name, member.mode, mtime)
            elif member.issym():
                cpio.add_symlink(name, member.linkname, mtime)
                lib_is_link |= name == "lib"
            elif member.isfile() or member.islnk():
                data = tar.extractfile(member).read()  # a hard link is stored as a copy
                cpio.add_file(name, data, member.mode, mtime)
            elif member.ischr() or member.isblk() or member.isfifo():
                kind = (stat.S_IFCHR if member.ischr() else
                        stat.S_IFBLK if member.isblk() else stat.S_IFIFO)
                cpio.add_device(name, kind | member.mode, member.devmajor, member.devminor, mtime)
    moddir = f"{'usr/lib' if lib_is_link else 'lib'}/modules/{kver}"
    for ko in modules.values():
        cpio.add_file(f"{moddir}/{ko.relative_to(modroot)}", ko.read_bytes())
    for extra in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
        if (modroot / extra).exists():
            cpio.add_file(f"{moddir}/{extra}", (modroot / extra).read_bytes())
    cpio.close()
    argv = _compressor()[1]
    if argv:
        with out.open("wb") as fh:
            subprocess.run(argv, input=raw.getvalue(), stdout=fh, check=True)
    else:
        with gzip.open(out, "wb", compresslevel=6) as fh:
            fh.write(raw.getvalue())
    # The kernel reads archives that follow this one only at a 4-byte boundary.
    with out.open("ab") as fh:
        fh.write(b"\0" * (-out.stat().st_size % 4))


def build_image(cache: Path | None = None, rebuild: bool = False) -> VmImage:
    """Return the cached kernel + base initramfs, building them first if the recipe changed."""
    kernel_package = kernel_meta_package()  # first: on a non-Debian host nothing else matters
    codename, sources = _host_apt()
    cache = cache or cache_root()
    cache.mkdir(parents=True, exist_ok=True)
    recipe = _recipe(codename, kernel_package)
    key = _recipe_key(recipe)
    start = time.monotonic()
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two pytest sessions must not build at once
        manifest_path = cache / "manifest.json"
        if manifest_path.exists() and not rebuild:
            manifest = json.loads(manifest_path.read_text())
            kernel, initrd = cache / manifest["kernel"], cache / manifest["initrd"]
            if manifest.get("key") == key and kernel.exists() and initrd.exists():
                return VmImage(kernel, initrd, manifest["kernel_version"],
                               time.monotonic() - start, cached=True)
        log.info("building the netem VM image in %s", cache)
        with tempfile.TemporaryDirectory(dir=cache, prefix=".build-") as tmp:
            work = Path(tmp)
            deb = fetch_kernel(work / "debs", kernel_package)  # dropped after extraction
            _run(["dpkg-deb", "-x", str(deb), str(work / "kernel")])
            vmlinuz = next((work / "kernel" / "boot").glob("vmlinuz-*"))
            kver = vmlinuz.name.removeprefix("vmlinuz-")
            modroot = next(p for p in (work / "kernel" / "lib" / "modules" / kver,
                                       work / "kernel" / "usr" / "lib" / "modules" / kver)
                           if p.exists())
            modules = module_closure(modroot, GUEST_MODULES)
            _bootstrap_tar(codename, sources, work / "rootfs.tar")
            ext = _compressor()[0]
            initrd_name, kernel_name = f"base-{key}.cpio.{ext}", f"vmlinuz-{kver}"
            _pack(work / "rootfs.tar", modules, modroot, kver, work / initrd_name)
            for old in cache.glob("base-*.cpio.*"):
                old.unlink()
            for old in cache.glob("vmlinuz-*"):
                old.unlink()
            shutil.move(work / initrd_name, cache / initrd_name)
            shutil.move(vmlinuz, cache / kernel_name)
        manifest = {"key": key, "recipe": recipe, "kernel": kernel_name, "initrd": initrd_name,
                    "kernel_version": kver, "kernel_deb": deb.name,
                    "modules": sorted(modules)}
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
        return VmImage(cache / kernel_name, cache / initrd_name, kver,
                       time.monotonic() - start, cached=False)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        image = build_image(rebuild="--rebuild" in argv)
    except VmUnavailable as exc:
        print(f"netem VM unavailable: {exc}", file=sys.stderr)
        return 3
    state = "cached" if image.cached else "built"
    print(f"{state} in {image.build_seconds:.1f}s: kernel {image.kernel_version}\n"
          f"  {image.kernel}\n  {image.initrd} ({image.initrd.stat().st_size / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
