"""`api-trace --lang c|java`: the scenario's traced hosts run the textbook's programs in that language.

Pure planning (no Docker). The lab's own programs are Python; with ``--lang`` the same hosts run
the reference programs of another language (tests/submissions/textbook-<lang>, built by
lab.run.build) under the supervisor, exactly as a student's program in that language runs — the
same tracer (strace -f as the program's parent, no capability), the same limits, the same user —
so their calls can stand beside the Python programs' calls of the same scenario.

The textbook clients name their server ``hostname`` and read the sentence from standard input:
each client gets ``hostname`` in its own host table, pointing at the server of its own kind (the
TCP client at the TCP server, the UDP client at the UDP server), and the scenario's sentence.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from lab.errors import ParameterError
from lab.scenario.languages import LANGUAGES
from lab.scenario.model import StudentProgram, StudentSlot
from lab.scenario.plan import Plan, student_argv

DEFAULT_LANG = "python"
PROGRAMS = ("tcp-server", "tcp-client", "udp-server", "udp-client")
READY_S = 5.0   # a server's bind on port 12000, after its runtime's own start (a JVM's)


def parse_lang(value: str | None) -> str:
    """The ``--lang`` value, checked against the table of languages.

    >>> parse_lang(None), parse_lang("C"), parse_lang(" java ")
    ('python', 'c', 'java')
    >>> parse_lang("rust")
    Traceback (most recent call last):
    ...
    lab.errors.ParameterError: --lang rust: allowed python, c, java
    """
    if value is None:
        return DEFAULT_LANG
    chosen = value.strip().lower()
    if chosen not in LANGUAGES:
        raise ParameterError(f"--lang {value}: allowed {', '.join(LANGUAGES)}")
    return chosen


def traced_programs(plan: Plan) -> dict[str, str]:
    """Instance → program of every traced host that runs one of the four programs."""
    return {i.name: i.program for i in plan.instances if i.traced and i.program in PROGRAMS}


def check_lang(plan: Plan, lang: str) -> None:
    """Another language than Python needs a scenario whose traced hosts run the four programs."""
    if lang == DEFAULT_LANG:
        return
    if not traced_programs(plan):
        raise ParameterError(f"--lang {lang}: scenario {plan.scenario.name} traces none of the four programs; "
                             "--lang sets other languages' calls beside Python's in api-trace")
    if plan.students:
        raise ParameterError(f"--lang {lang}: a run with a student's program (--server/--client) already "
                             "shows its calls beside the reference's; use one or the other")


def sentence_of(plan: Plan, instance: str) -> str:
    """What a textbook client reads from its input: the scenario's message, as the lab's client sends it.

    The lab's clients send ``{message} from {host}`` (scenarios/api-trace.toml); the textbook's
    client reads the same sentence from standard input.
    """
    return f"{plan.parameters.get('message', 'hello')} from {instance}"


def lang_plan(plan: Plan, programs: Mapping[str, StudentProgram]) -> Plan:
    """The plan with each traced host's Python program replaced by ``programs[program]`` (built).

    ``programs``: program kind (tcp-server, ...) → the reference program in the language, with its
    artifact. The hosts run it under the supervisor (traced by it, so no second tracer), clients
    once with the scenario's sentence, each client's ``hostname`` pointing at its own kind's server.
    """
    traced = traced_programs(plan)
    missing = sorted(set(traced.values()) - set(programs))
    if missing:
        raise ParameterError(f"no reference program for {', '.join(missing)}")
    servers = {i.program.split("-")[0]: i.name for i in plan.instances if i.name in traced and i.role == "service"}
    timeout = float(plan.parameters.get("timeout", 5.0))
    instances = []
    for instance in plan.instances:
        if instance.name not in traced:
            instances.append(instance)
            continue
        program = programs[instance.program]
        role = "server" if instance.role == "service" else "client"
        limit = plan.scenario.timeout_s if role == "server" else timeout + 10
        kind = instance.program.split("-")[0]
        instances.append(replace(
            instance, argv=student_argv(program, role, limit), traced=False, student=program, aliases=(),
            inputs=(sentence_of(plan, instance.name),) if role == "client" else (),
            hostname_of=servers.get(kind, "") if role == "client" else ""))
    allowance = max((LANGUAGES[p.language].start_allowance_s for p in programs.values()), default=0.0)
    server = next(i.host for i in instances if i.student and i.role == "service")
    client = next(i.host for i in instances if i.student and i.role == "client")
    slots = {"server": StudentSlot("server", server, ready_s=READY_S + 4 * allowance),
             "client": StudentSlot("client", client, runs=1, limit_s=timeout + 10 + allowance)}
    scenario = replace(plan.scenario, students=slots)
    students = {"server": programs[traced[server]], "client": programs[traced[client]]}
    return replace(plan, scenario=scenario, instances=tuple(instances), students=students, host_table=True,
                   capture_hosts=())
