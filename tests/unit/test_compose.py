"""compose/NAME.yml stays in step with the scenarios it is rendered from."""
from pathlib import Path

import pytest

from lab import compose, scenario_loader
from lab.plan import build_plan

COMPOSE_DIR = Path(__file__).resolve().parents[2] / "compose"


@pytest.mark.parametrize("name", list(scenario_loader.available()))
def test_committed_compose_file_matches_the_scenario(name):
    path = COMPOSE_DIR / f"{name}.yml"
    assert path.exists(), f"missing {path}: run `invoke compose {name}`"
    assert path.read_text() == compose.render(build_plan(scenario_loader.load(name), {})), \
        f"{path} is stale: run `invoke compose {name}`"


def test_every_host_becomes_a_service_on_its_networks():
    text = compose.render(build_plan(scenario_loader.load("tcp-sequential"), {"clients": "2"}))
    for service in ("server:", "client-1:", "client-2:"):
        assert f"\n  {service}\n" in text
    assert "internal: true" in text and 'depends_on: ["server"]' in text
