"""A fake engine for unit tests: implements lab.engines.base.Engine/Lab in memory, no Docker.

It keeps the objects a run creates (with their labels, as a real engine would), the order of every
call, and answers execs through a function the test gives (``answer(host, argv) -> result``). A
host's stdout (what ``logs`` returns, where ``wait_for_log`` looks) comes from ``program_output``
(default: a ``listening`` event for a service). An answer of ``None`` leaves the exec running
forever (a future that never completes), for time-limit tests; an exception is raised in the exec.

    engine = FakeEngine(answer=lambda host, argv: CommandResult(0, '{"event": "done"}\\n'))
    outcome = run_scenario(engine, plan, progress=print)
    assert engine.count_labelled() == (0, 0)
"""
from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from lab.common import LABEL_ROLE, LABEL_RUN, LABEL_SESSION, CommandResult
from lab.engines.base import HelperSpec, HostSpec, LabelledObject, RunIdentity, Survey
from lab.errors import StepFailed
from lab.engines.base import LiveRun

Answer = Callable[[str, list[str]], "CommandResult | None"]


def ok(host: str, argv: list[str]) -> CommandResult:
    return CommandResult(0, "", "")


def listening(spec: HostSpec) -> str:
    return '{"event": "listening", "port": 12000}\n' if spec.role == "service" else ""


class FakeEngine:
    name = "fake"

    def __init__(self, answer: Answer = ok, program_output: Callable[[HostSpec], str] = listening) -> None:
        self.answer = answer
        self.program_output = program_output
        self.objects: dict[str, LabelledObject] = {}
        self.calls: list[tuple[str, ...]] = []   # ("network", name), ("start", host), ("exec", host, argv0) ...
        self.execs: list[tuple[str, list[str], str | None]] = []
        self.images: dict[str, dict[str, str]] = {}
        self.labs: list[FakeLab] = []

    @classmethod
    def connect(cls) -> FakeEngine:
        return cls()

    @classmethod
    def survey(cls, images: Sequence[str]) -> Survey:
        return Survey([("engine", "fake 1.0 in memory — ok")], cls())

    def version(self) -> str:
        return "fake 1.0"

    def kept_advice(self, run_id: str) -> str:
        return f"nothing to look at: run {run_id} lives in memory"

    def image_labels(self, tag: str) -> dict[str, str] | None:
        return self.images.get(tag)

    def registry_reachable(self, reference: str) -> tuple[bool, str]:
        return False, "no registry in a fake"

    def try_pull(self, reference: str) -> tuple[bool, str]:
        return False, "no registry in a fake"

    def import_rootfs(self, tarball: Path, tag: str) -> None:
        self.images[tag] = {}

    def build(self, context: Path, tag: str, buildargs: dict[str, str], labels: dict[str, str],
              on_line: Callable[[str], None]) -> None:
        self.images[tag] = dict(labels)

    def spread_images(self, tags: Sequence[str], progress: Callable[[str], None]) -> list[str]:
        return []

    def nodes(self) -> list[str]:
        return []

    def lab(self, identity: RunIdentity) -> FakeLab:
        lab = FakeLab(self, identity)
        self.labs.append(lab)
        return lab

    def labelled(self, run_id: str | None = None, session: str | None = None) -> list[LabelledObject]:
        return [o for o in self.objects.values()
                if LABEL_RUN in o.labels and (run_id is None or o.labels[LABEL_RUN] == run_id)
                and (session is None or o.labels.get(LABEL_SESSION) == session)]

    def remove_labelled(self, run_id: str | None = None, session: str | None = None) -> tuple[int, int]:
        found = self.labelled(run_id, session)
        for item in found:
            del self.objects[item.name]
        self.calls.append(("remove", run_id or "*"))
        return (sum(o.kind == "container" for o in found), sum(o.kind == "network" for o in found))

    def count_labelled(self, run_id: str | None = None, session: str | None = None) -> tuple[int, int]:
        found = self.labelled(run_id, session)
        return (sum(o.kind == "container" for o in found), sum(o.kind == "network" for o in found))


    def live_runs(self, session: str | None = None) -> list[LiveRun]:
        runs: dict[str, set[str]] = {}
        for item in self.labelled(session=session):
            if item.kind == "container" and item.labels.get(LABEL_ROLE) != "helper":
                run_id = item.labels[LABEL_RUN]
                runs.setdefault(run_id, set()).add(item.name.removeprefix(f"socklab-{run_id}-"))
        return [LiveRun(run_id, "fake", tuple(sorted(hosts))) for run_id, hosts in sorted(runs.items())]

    def warm_networks(self) -> AbstractContextManager[None]:
        return nullcontext()

    def shell_argv(self, run_id: str, host: str, interactive: bool) -> list[str]:
        return ["true", run_id, host]


class FakeLab:
    engine_addresses: tuple[str, ...] = ()   # no resolver of its own in the fake hosts

    def __init__(self, engine: FakeEngine, identity: RunIdentity) -> None:
        self.engine = engine
        self.identity = identity
        self.specs: dict[str, HostSpec | HelperSpec] = {}
        self.networks: dict[str, bool] = {}
        self.output: dict[str, str] = {}
        self.stopped: list[str] = []
        self.files: dict[tuple[str, str], bytes] = {}

    def _name(self, logical: str) -> str:
        return f"socklab-{self.identity.run_id}-{logical}"

    def create_network(self, name: str, internal: bool = True, subnet: str | None = None) -> None:
        self.engine.calls.append(("network", name))
        self.networks[name] = internal
        self.engine.objects[self._name(name)] = LabelledObject("network", self._name(name),
                                                               self.identity.labels("network"))

    def start(self, spec: HostSpec) -> None:
        unknown = [n for n in spec.networks if n not in self.networks]
        if unknown:
            raise StepFailed(f"starting {spec.name} failed: network {unknown[0]} not found")
        self.engine.calls.append(("start", spec.name))
        self.specs[spec.name] = spec
        self.files.update({(spec.name, path): content for path, content in spec.files.items()})
        self.output[spec.name] = self.engine.program_output(spec)
        self.engine.objects[self._name(spec.name)] = LabelledObject("container", self._name(spec.name),
                                                                    self.identity.labels(spec.role))

    def start_all(self, specs: Sequence[HostSpec]) -> None:
        for spec in specs:
            self.start(spec)

    def attach_helper(self, spec: HelperSpec) -> None:
        if spec.target not in self.specs:
            raise StepFailed(f"helper {spec.name}: no host {spec.target}")
        self.engine.calls.append(("helper", spec.name, spec.target))
        self.specs[spec.name] = spec
        self.engine.objects[self._name(spec.name)] = LabelledObject("container", self._name(spec.name),
                                                                    self.identity.labels("helper"))

    def _running(self, host: str) -> None:
        if host not in self.specs or self._name(host) not in self.engine.objects:
            raise StepFailed(f"exec in {host} failed: no such container")

    def exec(self, host: str, argv: Sequence[str], *, user: str | None = None) -> CommandResult:
        self._running(host)
        self.engine.calls.append(("exec", host, argv[0]))
        self.engine.execs.append((host, list(argv), user))
        result = self.engine.answer(host, list(argv))
        if result is None:
            raise AssertionError("a None answer is only for exec_background")
        return result

    def exec_background(self, host: str, argv: Sequence[str], *, user: str | None = None
                        ) -> Future[CommandResult]:
        future: Future[CommandResult] = Future()
        future.set_running_or_notify_cancel()
        try:
            self._running(host)
            self.engine.calls.append(("exec_background", host, argv[0]))
            self.engine.execs.append((host, list(argv), user))
            result = self.engine.answer(host, list(argv))
        except BaseException as error:  # as a real engine: the error comes out of the future
            future.set_exception(error)
            return future
        if result is not None:
            future.set_result(result)
        return future

    def put_file(self, host: str, path: str, content: bytes, mode: int = 0o644) -> None:
        self._running(host)
        self.files[(host, path)] = content

    def copy_out(self, host: str, path: str) -> bytes:
        """A tar archive of the files put under `path` (put_file/HostSpec.files)."""
        import io
        import tarfile

        self._running(host)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for (owner, name), content in self.files.items():
                if owner == host and name.startswith(path.rstrip("/") + "/"):
                    info = tarfile.TarInfo(name[len(path.rstrip("/")) + 1:])
                    info.size = len(content)
                    archive.addfile(info, io.BytesIO(content))
        return buffer.getvalue()

    def logs(self, host: str) -> str:
        self._running(host)
        return self.output.get(host, "")

    def stderr(self, host: str) -> str:
        return ""

    def wait_for_log(self, host: str, needle: str, timeout: float) -> None:
        if needle not in self.logs(host):
            raise StepFailed(f"{host} was not ready within {timeout:.0f} s (waited for {needle!r})")

    def wait_for_any_log(self, host: str, needles: Sequence[str], timeout: float) -> str | None:
        text = self.logs(host)
        return next((n for n in needles if n in text), None)

    def stop(self, host: str, timeout: int = 3) -> None:
        self.engine.calls.append(("stop", host))
        self.stopped.append(host)

    def address(self, host: str, network: str) -> str:
        return f"10.0.0.{list(self.specs).index(host) + 2}"

    def testinfra_url(self, host: str) -> str:
        return f"fake://{host}"

    def expect_looks(self, hosts: Sequence[str]) -> None:
        self.engine.calls.append(("expect_looks", tuple(hosts)))

    def hosts(self) -> list[str]:
        return list(self.specs)

    def close(self, failed: bool = False) -> None:
        pass


if TYPE_CHECKING:  # mypy proves here that the fake implements the interface
    from lab.engines.base import Engine, Lab

    def _implements(engine: FakeEngine, lab: FakeLab) -> tuple[Engine, Lab]:
        return engine, lab
