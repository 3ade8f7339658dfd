"""How socklab finds each swarm node's engine: SOCKLAB_NODES, nodes.toml, nodes.d, the default
template, and clear bad-input messages (exit 2) for a configuration that cannot be right."""
from __future__ import annotations

from pathlib import Path

import pytest

from lab.engines import swarm_nodes
from lab.errors import BadInput, NodeUnavailable


def test_inline_setting_names_each_node():
    config = swarm_nodes.load({"SOCKLAB_NODES": "a=ssh://root@10.0.0.2, b=tcp://172.30.0.3:2375",
                               "HOME": "/nonexistent"})
    assert config.access("a", "10.0.0.2", False).url == "ssh://root@10.0.0.2"
    b = config.access("b", "172.30.0.3", False)
    assert b.plain_tcp and b.cli_arguments() == ["--host", "tcp://172.30.0.3:2375"]


def test_the_manager_needs_no_entry_but_other_nodes_do():
    config = swarm_nodes.load({"HOME": "/nonexistent"})
    assert config.access("boss", "10.0.0.1", True).url is None
    with pytest.raises(NodeUnavailable, match=r"lab-02 \(10.0.0.2\).*ssh://USER@10.0.0.2") as error:
        config.access("lab-02", "10.0.0.2", False)
    assert error.value.exit_code == 3


def test_toml_file_with_default_template_tls_and_nodes_d(tmp_path: Path):
    home = tmp_path / "config" / "socklab"
    (home / "nodes.d").mkdir(parents=True)
    (home / "nodes.toml").write_text(
        'default = "ssh://teacher@{addr}"\n'
        '[nodes]\n'
        'lab-02 = "ssh://root@lab-02"\n'
        'lab-03 = { url = "tcp://lab-03:2376", tls = "~/certs/lab-03" }\n')
    (home / "nodes.d" / "local.toml").write_text('[nodes]\nlab-02 = "tcp://ignored:2375"\nlocal-1 = "tcp://172.30.0.2:2375"\n')
    config = swarm_nodes.load({"XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path)})
    assert config.access("lab-02", "x", False).url == "ssh://root@lab-02"     # nodes.toml wins over nodes.d
    assert config.access("local-1", "x", False).url == "tcp://172.30.0.2:2375"
    assert config.access("lab-09", "10.1.1.9", False).url == "ssh://teacher@10.1.1.9"
    lab03 = config.access("lab-03", "x", False)
    assert not lab03.plain_tcp
    assert lab03.cli_arguments()[:3] == ["--host", "tcp://lab-03:2376", "--tlsverify"]
    assert lab03.cli_arguments()[4].endswith("certs/lab-03/ca.pem")


def test_socklab_nodes_may_name_a_toml_file_and_wins(tmp_path: Path):
    path = tmp_path / "n.toml"
    path.write_text('[nodes]\nlab-02 = "ssh://me@there"\n')
    home = tmp_path / "config" / "socklab"
    home.mkdir(parents=True)
    (home / "nodes.toml").write_text('[nodes]\nlab-02 = "ssh://other@there"\n')
    config = swarm_nodes.load({"SOCKLAB_NODES": str(path), "XDG_CONFIG_HOME": str(tmp_path / "config")})
    assert config.access("lab-02", "x", False).url == "ssh://me@there"


@pytest.mark.parametrize("setting, message", [
    ("lab-02", "neither NODE=URL pairs nor an existing TOML file"),
    ("lab-02=http://x", "not an engine address"),
    ("=ssh://x", "is not NODE=URL"),
])
def test_bad_inline_settings_are_bad_input(setting: str, message: str):
    with pytest.raises(BadInput, match=message) as error:
        swarm_nodes.load({"SOCKLAB_NODES": setting, "HOME": "/nonexistent"})
    assert error.value.exit_code == 2


@pytest.mark.parametrize("text, message", [
    ('nodes = 3\n', r"\[nodes\] must be a table"),
    ('default = "ssh://root@host"\n', "template with {addr}"),
    ('colour = "red"\n', "unknown key"),
    ('[nodes]\na = { url = "ssh://x", user = "y" }\n', "unknown key"),
    ('[nodes]\na = 1\n', "expected"),
    ('[nodes\n', "not valid TOML"),
])
def test_bad_toml_is_bad_input_naming_the_file(tmp_path: Path, text: str, message: str):
    path = tmp_path / "nodes.toml"
    path.write_text(text)
    with pytest.raises(BadInput, match=message) as error:
        swarm_nodes.load({"SOCKLAB_NODES": str(path), "HOME": "/nonexistent"})
    assert str(path) in str(error.value)
