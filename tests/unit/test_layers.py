"""The pure layers import no SDK: loading a scenario, planning, checking and reporting a run
must work on a machine where docker and testinfra are not even importable."""
from __future__ import annotations

import subprocess
import sys

PURE = ["lab.common", "lab.scenario.model", "lab.impairment.units", "lab.scenario.parameters", "lab.scenario.loader", "lab.scenario.plan",
        "lab.run.record", "lab.checks", "lab.observe.metrics", "lab.observe.stats", "lab.checks.outcome", "lab.report",
        "lab.scenario.compose", "lab.engines.ownership", "lab.engines", "lab.engines.base", "lab.engines.swarm_nodes", "lab.impairment",
        "lab.impairment.spec", "lab.impairment.netem", "lab.impairment.userspace",
        "lab.impairment.probe", "lab.impairment.command"]


def test_pure_modules_load_neither_docker_nor_testinfra():
    code = ("import sys\n"
            f"for name in {PURE!r}: __import__(name)\n"
            "print(' '.join(sorted(m for m in ('docker', 'testinfra', 'requests') if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "", f"pure layers pulled in: {done.stdout.strip()}"


def test_the_engines_are_the_only_importers_of_docker():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "lab"
    importers = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                       if any(line.strip().startswith(("import docker", "from docker"))
                              for line in p.read_text().splitlines()))
    assert importers == ["engines/docker_endpoint.py", "engines/docker_engine.py", "engines/docker_testinfra.py",
                         "engines/swarm_cluster.py", "engines/swarm_engine.py", "engines/swarm_local.py"]
