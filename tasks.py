"""Invoke tasks: thin glue. Each parses its options and calls one function of lab.app."""
from __future__ import annotations

import inspect
import logging
import os
import shlex
import sys

from invoke import Collection, Context, Exit, task

# invoke turns Python's bytecode cache off (its --write-pyc, off by default, keeps tasks.pyc out of
# the project), so every `invoke scenario` compiled lab/ again from source: about 0.1 s of CPU per
# run that a plain `python` pays once. tasks.py itself is compiled already; from here on the lab's
# modules are cached as usual, unless the user asked for no cache (PYTHONDONTWRITEBYTECODE, -B).
if not (os.environ.get("PYTHONDONTWRITEBYTECODE") or sys.flags.dont_write_bytecode):
    sys.dont_write_bytecode = False

from lab import catalog  # noqa: E402
from lab.errors import LabError
from lab.scenario.model import RESERVED_PARAMETER_NAMES


def _call(operation: str, *args: object, **kwargs: object) -> None:
    """Run one lab operation (a function of lab.app); a LabError becomes its message and its exit
    code, never a traceback. lab.app (and with it docker, rich, testinfra) is imported only here,
    so `invoke --list`, `--help` and tab completion start without them."""
    from lab import app

    try:
        code, message = getattr(app, operation)(*args, **kwargs), None
    except LabError as error:
        code, message = error.exit_code, f"socklab: {error}"
    except KeyboardInterrupt:
        code, message = 130, "socklab: interrupted"
    if _only_task():
        _exit_now(code, message)
    if code:
        raise Exit(message, code=code)


def _only_task() -> bool:
    """Whether this task is the whole command line (`invoke scenario x`, not `invoke build scenario x`)."""
    try:
        from invoke.main import program

        return len(program.tasks) == 1
    except Exception:  # run some other way (a test, invoke as a library): end as usual
        return False


def _exit_now(code: int, message: str | None) -> None:
    """End the process as invoke would (message on stderr, exit code), without the interpreter's
    finalisation: tearing down the ~600 modules docker, rich and testinfra bring takes 0.1-0.5 s
    and cleans up nothing of the lab's (its teardown is over when the lab function returns)."""
    if message:
        print(message, file=sys.stderr)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


HELP_FLAGS = ("--help", "-h")


def _help_given_as(value: str, task_name: str) -> bool:
    """Whether invoke handed its help flag to this task as the positional argument; if so, the
    task's help is printed (as `invoke --help TASK` prints it) and the task must do nothing else.

    Why: invoke fills a task's positional argument before it looks for its own --help, so
    `invoke grade --help` graded a directory named "--help" (pyinvoke/invoke#982, open in 3.0.3)."""
    if value not in HELP_FLAGS:
        return False
    try:
        from invoke.main import program

        program.print_task_help(task_name)
    except (ImportError, AttributeError, KeyError):  # not invoke's command line (a test, a library)
        print(f"socklab: {task_name}'s options: invoke --help {task_name}", file=sys.stderr)
    return True


@task(name="scenarios", help={"json": "print [{name, lesson}, ...] as JSON (CI builds its matrix from it)",
                              "verbose": "also list each scenario's parameters: option, default, allowed values, help"})
def scenarios(c: Context, json: bool = False, verbose: bool = False) -> None:
    """List the scenarios: name first, then its one-line lesson."""
    _call("scenarios", as_json=json, verbose=verbose)


# Every parameter any scenario file declares is an option of `invoke scenario`, read from the files
# when invoke starts: a teacher's new parameter is a new --NAME without touching this file.
PARAMETER_OPTIONS = {name: owners for name, owners in catalog.declared_parameters().items()
                     if name not in RESERVED_PARAMETER_NAMES and name.isidentifier()}


def scenario(c: Context, name: str, seed: str | None = None, impair_backend: str = "auto",
             set_: list[str] | None = None, report_dir: str | None = None, keep: bool = False,
             capture: bool = False, server: str | None = None, client: str | None = None,
             engine: str | None = None, place: list[str] | None = None, verbose: bool = False,
             lang: str | None = None, **parameters: str | None) -> None:
    """Run one scenario, check its outcome and print a results table and a verdict.

    Each parameter of the scenario is --NAME VALUE (`invoke scenarios --verbose` lists them);
    --set NAME=VALUE sets one too.
    """
    if _help_given_as(name, "scenario"):
        return
    _logging(verbose)
    overrides: dict[str, str] = {k: v for k, v in parameters.items() if v is not None}
    for item in set_ or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise Exit(f"socklab: --set {item!r}: expected NAME=VALUE", code=2)
        overrides[key.strip().replace("-", "_")] = value
    _call("run", name, overrides, impair_backend=impair_backend, seed=seed,
          report_dir=report_dir, keep=keep, capture=capture, server=server, client=client,
          engine_name=engine, place=place, lang=lang)


# invoke reads a task's options from its signature: the fixed ones, then one per parameter.
_fixed = [p for p in inspect.signature(scenario).parameters.values() if p.kind != p.VAR_KEYWORD]
scenario.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    _fixed + [inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY, default=None, annotation="str | None")
              for p in PARAMETER_OPTIONS])
scenario = task(
    positional=["name"],
    auto_shortflags=False,  # a new parameter must not move another option's short flag
    iterable=["set_", "place"],
    help={
        "name": "scenario name (see `invoke scenarios`)",
        "seed": "make random impairment choices reproducible (userspace backend)",
        "impair-backend": "auto (probe), netem or userspace",
        "set": "a scenario parameter as NAME=VALUE (repeatable)",
        "report-dir": "write NAME.json, NAME.junit.xml, NAME.md, NAME.html and the plots (and a captured run's pcaps) here",
        "keep": "leave the lab running for exploring (invoke clean removes it)",
        "capture": "tcpdump on every interface of every host; pcaps kept in --report-dir",
        "server": "a student's server program (e.g. TCPServer.py) runs in the server's role",
        "client": "a student's client program (e.g. UDPClient.py) runs in the client's role",
        "engine": "docker or swarm (default: $SOCKLAB_ENGINE, else docker)",
        "place": "swarm: run a host on a node, HOST=NODE (repeatable; nodes: invoke doctor --engine swarm)",
        "verbose": "show debug logging",
        "lang": "api-trace: also run the textbook's programs in c or java, their calls beside Python's (default python)",
        **{p.replace("_", "-"): f"parameter of {', '.join(names)}" for p, names in PARAMETER_OPTIONS.items()},
    },
)(scenario)


@task(positional=["directory"], help={
    "directory": "the class: DIR/<student>/ holding TCPServer.py TCPClient.py UDPServer.py UDPClient.py "
                 "(any of them; any case; tcp_server.py etc. too)",
    "scenarios": "only these scenarios, comma-separated (default: every scenario that takes one of "
                 "the student's programs)",
    "jobs": "runs at once (each a whole lab of containers; default 1)",
    "report-dir": "where the gradebook, the classroom files and each student's reports go (default grades/)",
    "engine": "docker or swarm: swarm spreads the runs over its nodes (default: $SOCKLAB_ENGINE, else docker)",
    "strict": "exit 1 when any run failed or errored (CI grading a push: the exit code is the verdict)",
    "seed": "the seed of the impairments' random choices (default: each scenario's own, the same every time)",
    "cold": "every run makes and removes its own networks and lab hosts (slower: to compare with the warm pool)",
    "verbose": "show debug logging",
})
def grade(c: Context, directory: str, scenarios: str | None = None, jobs: int = 1, report_dir: str = "grades",
          engine: str | None = None, strict: bool = False, seed: str | None = None, cold: bool = False,
          verbose: bool = False) -> None:
    """Grade a class: each student's programs through the scenarios, a gradebook and classroom results."""
    if _help_given_as(directory, "grade"):
        return
    _logging(verbose)
    _call("grade", directory, scenarios=scenarios, jobs=jobs, report_dir=report_dir, engine_name=engine,
          strict=strict, seed=seed, cold=cold)


@task(name="all", help={"report-dir": "write each scenario's JSON, JUnit and Markdown here",
                         "impair-backend": "auto (probe), netem or userspace",
                         "jobs": "run up to N scenarios at once, each in its own process (default 1)",
                         "engine": "docker or swarm (default: $SOCKLAB_ENGINE, else docker)",
                         "verbose": "show debug logging"})
def all_scenarios(c: Context, report_dir: str | None = None, impair_backend: str = "auto", jobs: int = 1,
                  engine: str | None = None, verbose: bool = False) -> None:
    """Run every scenario with its defaults (what CI does) and print a summary table."""
    _logging(verbose)
    _call("run_all", report_dir=report_dir, impair_backend=impair_backend, jobs=jobs, engine_name=engine)


@task(help={"force": "rebuild even when the images match their sources", "verbose": "show build output",
            "engine": "swarm: also copy the images to every node (default: $SOCKLAB_ENGINE, else docker)"})
def build(c: Context, force: bool = False, engine: str | None = None, verbose: bool = False) -> None:
    """Build the apps and tools images (bootstraps a base locally when no registry answers)."""
    _logging(verbose)
    _call("build", force=force, engine_name=engine)


@task(help={"run": "only this run id (printed by --keep); default: every run",
            "stale": "only objects of runs whose process is gone (killed, engine restarted)",
            "engine": "engine to clean (default: $SOCKLAB_ENGINE, else docker)"})
def clean(c: Context, run: str | None = None, stale: bool = False, engine: str | None = None) -> None:
    """Remove containers and networks labelled io.socklab.run (by label, never by name)."""
    _call("clean", run, stale=stale, engine_name=engine)


@task(positional=["host"], help={"host": "a host of the lab: server, client, client-2, router, ...",
                                 "run": "the run id --keep printed (needed when several labs run)"})
def shell(c: Context, host: str, run: str | None = None) -> None:
    """Open an interactive shell on a host of a kept lab (`invoke scenario NAME --keep`)."""
    if _help_given_as(host, "shell"):
        return
    _call("shell", host, run)


@task(help={"engine": "swarm: every node, how it is reached, its images and impairment backend"})
def doctor(c: Context, engine: str | None = None) -> None:
    """Engine version, registry reachability and kernel features (netem, NFQUEUE, iptables)."""
    _call("doctor", engine_name=engine)


@task(name="swarm-up", help={"nodes": "node containers to add beside this engine (default 1)"})
def swarm_up(c: Context, nodes: int = 1) -> None:
    """A local swarm to try --engine swarm: this engine as manager plus node containers (root)."""
    _call("swarm_up", nodes)


@task(name="swarm-down")
def swarm_down(c: Context) -> None:
    """Take the local swarm apart; this engine leaves swarm mode if swarm-up put it there."""
    _call("swarm_down")


@task(positional=["name"], help={"name": "scenario name, or 'all'"})
def compose(c: Context, name: str) -> None:
    """Write compose/NAME.yml: the scenario's topology as a plain Compose file."""
    if _help_given_as(name, "compose"):
        return
    for each in (catalog.available() if name == "all" else [name]):
        _call("compose", each)


@task(help={"args": "extra pytest arguments, e.g. '-m \"not vm\"' or '-k udp'"})
def test(c: Context, args: str = "") -> None:
    """Run the test suite: unit tests, real-engine integration tests and the netem VM test."""
    command = [sys.executable, "-m", "pytest", *shlex.split(args)]
    result = c.run(shlex.join(command), warn=True, pty=False)
    if result is not None and result.exited:
        raise Exit(code=result.exited)


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


namespace = Collection(scenarios, scenario, grade, all_scenarios, build, clean, shell, doctor, swarm_up,
                       swarm_down, compose, test)
