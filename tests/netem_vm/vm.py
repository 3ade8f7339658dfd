"""Boot the netem test VM once with a plan of cases and collect one report per case.

The plan travels in a small uncompressed cpio (guest /init, runner.py, measure.py, plan.json)
placed in front of the cached base initramfs; the kernel unpacks both into its root file system.
The VM has no network device (`-nic none`): all traffic stays between two namespaces inside it.
It powers itself off at the end; a hard timeout kills qemu if it does not.

>>> case = Case("base", probe=Probe(count=10))
>>> case.to_plan()["probe"]["count"]
10
"""
from __future__ import annotations

import dataclasses
import io
import json
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from .build import VmImage, VmUnavailable
from .cpio import CpioWriter

GUEST_DIR = Path(__file__).resolve().parent / "guest"
RESULT_RE = re.compile(r"@@SOCKLAB-RESULT@@(.*?)@@END@@")
IFACE_A, IFACE_B = "veth-a", "veth-b"


@dataclasses.dataclass(frozen=True)
class Probe:
    count: int = 200
    interval_ms: float = 10
    drain_s: float = 1.0
    payload: int = 64  #: UDP payload bytes per datagram (at least 12: sequence number + time)


@dataclasses.dataclass(frozen=True)
class Case:
    """In fresh namespaces A and B (IFACE_A lives in A): `commands` then `verify` run in A, a
    probe A → B → A, then `cleanup`. Each command's rc, stdout and stderr come back in the report.
    """

    name: str
    commands: Sequence[Sequence[str]] = ()
    verify: Sequence[Sequence[str]] = ()
    cleanup: Sequence[Sequence[str]] = ()
    probe: Probe | None = None

    def to_plan(self) -> dict:
        return {"name": self.name, "commands": [list(c) for c in self.commands],
                "verify": [list(c) for c in self.verify],
                "cleanup": [list(c) for c in self.cleanup],
                "probe": dataclasses.asdict(self.probe) if self.probe else None}


@dataclasses.dataclass
class VmRun:
    reports: dict[str, dict]
    console: str
    returncode: int | None
    seconds: float
    guest_kernel: str | None

    def report(self, name: str) -> dict:
        if name not in self.reports:
            raise AssertionError(f"the VM reported nothing for case {name!r}; console tail:\n"
                                 f"{self.console[-3000:]}")
        return self.reports[name]


def qemu_binary() -> str:
    path = shutil.which("qemu-system-x86_64")
    if not path:
        raise VmUnavailable("qemu-system-x86_64 not found (apt-get install qemu-system-x86)")
    return path


def plan_cpio(cases: Sequence[Case]) -> bytes:
    buf = io.BytesIO()
    cpio = CpioWriter(buf)
    cpio.add_file("init", (GUEST_DIR / "init").read_bytes(), mode=0o755)
    for script in ("runner.py", "measure.py"):
        cpio.add_file(f"socklab/{script}", (GUEST_DIR / script).read_bytes())
    plan = {"iface_a": IFACE_A, "iface_b": IFACE_B, "cases": [c.to_plan() for c in cases]}
    cpio.add_file("socklab/plan.json", json.dumps(plan).encode())
    cpio.close()
    return buf.getvalue()


def run_cases(image: VmImage, cases: Sequence[Case], timeout: float = 600,
              memory_mb: int = 1024, smp: int = 1) -> VmRun:
    """Boot once, run every case in order, return the parsed reports and the whole console."""
    qemu = qemu_binary()
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="socklab-vm-") as tmp:
        initrd = Path(tmp) / "initrd"
        with initrd.open("wb") as out:
            out.write(plan_cpio(cases))  # uncompressed first, like early microcode
            with image.initrd.open("rb") as base:
                shutil.copyfileobj(base, out)
        argv = [qemu, "-nographic", "-no-reboot", "-m", str(memory_mb), "-smp", str(smp),
                "-nic", "none", "-kernel", str(image.kernel), "-initrd", str(initrd),
                "-append", "console=ttyS0 quiet panic=-1 rdinit=/init"]
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=timeout, check=False)
            console, rc = proc.stdout.decode(errors="replace"), proc.returncode
            console += proc.stderr.decode(errors="replace")
        except subprocess.TimeoutExpired as exc:
            console = (exc.stdout or b"").decode(errors="replace")
            raise AssertionError(f"the VM did not power off within {timeout}s; console tail:\n"
                                 f"{console[-3000:]}") from exc
    reports, guest_kernel = {}, None
    for match in RESULT_RE.finditer(console.replace("\r", "")):
        try:
            report = json.loads(match.group(1))
        except json.JSONDecodeError:  # a kernel message cut into the line: keep it for the error
            report = {"case": f"_garbled{match.start()}", "error": match.group(1)}
        if report["case"] == "_guest":
            guest_kernel = report["kernel"]
        else:
            reports[report["case"]] = report
    return VmRun(reports, console, rc, time.monotonic() - start, guest_kernel)
