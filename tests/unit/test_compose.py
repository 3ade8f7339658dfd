"""compose/NAME.yml stays in step with the scenarios it is rendered from, and is valid Compose."""
import functools
import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

from lab.scenario import compose

from lab import catalog
from lab.scenario.plan import build_plan

COMPOSE_DIR = Path(__file__).resolve().parents[2] / "compose"
# Debian's docker-compose 1.29 validates with its own copy of the spec (no top-level `name:`).
COMPOSE_129_SCHEMA = Path("/usr/lib/python3/dist-packages/compose/config/compose_spec.json")
NAMES = list(catalog.available())


def load(name: str) -> dict:
    return YAML(typ="safe").load((COMPOSE_DIR / f"{name}.yml").read_text())


@pytest.mark.parametrize("name", NAMES)
def test_committed_compose_file_matches_the_scenario(name):
    path = COMPOSE_DIR / f"{name}.yml"
    assert path.exists(), f"missing {path}: run `invoke compose {name}`"
    assert path.read_text() == compose.render(build_plan(catalog.load(name), {})), \
        f"{path} is stale: run `invoke compose {name}`"


@functools.cache
def compose_spec() -> "jsonschema.protocols.Validator":
    """The Compose Specification's schema (as check-jsonschema vendors it): what Compose v2 reads."""
    schema = json.loads((resources.files("check_jsonschema.builtin_schemas.vendor")
                         / "compose-spec.json").read_text())
    return jsonschema.Draft202012Validator(schema)


@functools.cache
def compose_129_spec() -> "jsonschema.protocols.Validator":
    # Its "$schema" URL has a trailing '#' jsonschema does not know: name the draft it means.
    return jsonschema.Draft201909Validator(json.loads(COMPOSE_129_SCHEMA.read_text()))


@pytest.mark.parametrize("name", NAMES)
def test_compose_file_follows_the_compose_spec(name):
    compose_spec().validate(load(name))


@pytest.mark.parametrize("name", NAMES)
def test_compose_file_is_accepted_by_docker_compose_1_29(name):
    if not COMPOSE_129_SCHEMA.exists():
        pytest.skip("Debian's docker-compose is not installed (./bootstrap installs it)")
    compose_129_spec().validate(load(name))


def test_every_host_becomes_a_service_on_its_networks():
    text = compose.render(build_plan(catalog.load("tcp-sequential"), {"clients": "2"}))
    for service in ("server:", "client-1:", "client-2:"):
        assert f"\n  {service}\n" in text
    assert "internal: true" in text


def test_clients_wait_for_a_healthy_server_and_nothing_is_pulled():
    document = load("tcp-sequential")
    server = document["services"]["server"]
    assert "12000" in " ".join(server["healthcheck"]["test"])
    for name, service in document["services"].items():
        assert service["pull_policy"] == "never"
        assert service["image"] == "socklab/apps:${SOCKLAB_IMAGE_TAG:-latest}"
        assert service["cap_drop"] == ["ALL"]
        if name != "server":
            assert service["depends_on"] == {"server": {"condition": "service_healthy"}}
    assert "name" not in document  # docker-compose 1.29 rejects a top-level name


def test_a_host_without_a_program_has_no_healthcheck_and_clients_only_wait_for_its_start():
    document = load("tcp-no-server")
    assert "healthcheck" not in document["services"]["server"]
    assert document["services"]["client"]["depends_on"] == {"server": {"condition": "service_started"}}
