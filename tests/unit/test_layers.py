"""The tree is the architecture: layers import only those below them, nothing imports in a cycle,
and the pure layers import no SDK (loading a scenario, planning, checking and reporting a run must
work on a machine where docker and testinfra are not even importable).

The contracts are pyproject.toml's [tool.importlinter]; `lint-imports` checks them in CI through
the first test here. The last one runs the pure modules for real, backing the forbidden contract.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_hold():
    """The layers contract and the 'no docker, testinfra or requests' contract (import-linter)."""
    pytest.importorskip("importlinter", reason="the dev extras (pip install -e '.[dev]') bring import-linter")
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert lint, "lint-imports is not on PATH though importlinter is installed"
    done = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout and "2 kept" in done.stdout, done.stdout[-2000:]


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles_not_even_type_only_ones():
    grimp = pytest.importorskip("grimp", reason="the dev extras (pip install -e '.[dev]') bring grimp")
    graph = grimp.build_graph("lab", exclude_type_checking_imports=False, cache_dir=None)
    import lab

    assert Path(lab.__file__).resolve().parents[1] == ROOT   # this checkout's lab/, not an installed one
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    """The finder itself: a type-only back edge is a cycle too."""

    class Graph:
        modules = {"a", "b", "c", "d"}

        @staticmethod
        def find_modules_directly_imported_by(module: str) -> set[str]:
            return {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}[module]

    assert _cycles(Graph) == [["a", "b", "c"]]

PURE = ["lab.common", "lab.scenario.model", "lab.impairment.units", "lab.scenario.parameters", "lab.scenario.loader", "lab.scenario.files", "lab.scenario.fields", "lab.scenario.addressing", "lab.scenario.plan",
        "lab.run.record", "lab.checks", "lab.observe.metrics", "lab.observe.stats", "lab.checks.outcome", "lab.report",
        "lab.scenario.compose", "lab.catalog", "lab.engines.ownership", "lab.engines", "lab.engines.base", "lab.engines.swarm_nodes", "lab.impairment",
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
    assert importers == ["engines/docker_agent.py", "engines/docker_endpoint.py", "engines/docker_engine.py",
                         "engines/docker_shared.py",
                         "engines/docker_testinfra.py",
                         "engines/swarm_cluster.py", "engines/swarm_engine.py", "engines/swarm_local.py"]
