"""README.md stays true: its scenario table lists every scenario, its test command is what CI runs;
and the scenario example of docs/writing-scenarios.md loads."""
import re
from lab.scenario.loader import tomllib  # tomli on Python 3.10
from pathlib import Path

from lab import catalog
from lab.scenario.plan import build_plan

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
WRITING_SCENARIOS = (ROOT / "docs" / "writing-scenarios.md").read_text()


def test_the_scenario_example_is_a_valid_scenario():
    block = re.search(r"```toml\n(.*?)```", WRITING_SCENARIOS, re.S).group(1)
    plan = build_plan(catalog.parse("readme-example", tomllib.loads(block)), {"clients": "2"})
    assert [i.name for i in plan.instances] == ["server", "client-1", "client-2"]


def test_every_scenario_is_in_the_table_with_its_lesson():
    for name, path in catalog.available().items():
        assert f"| `{name}` | {catalog.lesson_of(path)}" in README, name


def test_ci_runs_the_readmes_test_command_as_one_pytest():
    """CI must fail where a newcomer's `invoke test` fails: the same command, the whole suite."""
    command = re.search(r"Run the tests:\n\n```sh\n(.*?)\n```", README, re.S).group(1).strip()
    ci = (ROOT / ".ci" / "run").read_text()
    lines = [line.strip() for line in ci.replace("\\\n", " ").splitlines() if command in line]
    assert lines, f"{command!r} is not in .ci/run"
    assert not any("--ignore" in line or "tests/" in line.split(command, 1)[1] for line in lines)
