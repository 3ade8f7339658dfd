"""Which base `invoke build` stands on, decided with other machines' facts injected.

The order matters to users: macOS/Fedora/Arch must get the pull tried before anything reads apt,
and only a Debian/Ubuntu host whose pull failed bootstraps a base locally.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from lab.engines import base_image

from lab.engines import images
from lab.engines.base_image import PULLED_BASE, HostFacts
from lab.errors import ImageBuildError

DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n'
FEDORA = 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=40\n'
ARCH = 'NAME="Arch Linux"\nID=arch\n'


class FakeEngine:
    """The three engine calls choose_base makes, with a registry that answers or not."""

    def __init__(self, present: set[str] = frozenset(), registry: bool = True) -> None:
        self.present, self.registry, self.pulls = set(present), registry, []

    def image_labels(self, tag: str):
        return {} if tag in self.present else None

    def try_pull(self, reference: str):
        self.pulls.append(reference)
        if self.registry:
            self.present.add(reference)
            return True, "pulled"
        return False, "dial tcp: lookup registry: no such host"


def debian_host(tmp_path: Path) -> HostFacts:
    (tmp_path / "apt" / "sources.list.d").mkdir(parents=True)
    (tmp_path / "apt" / "sources.list").write_text("deb http://deb.example/debian bookworm main\n")
    (tmp_path / "os-release").write_text(DEBIAN)
    return HostFacts("Linux", DEBIAN, True, tmp_path / "apt", tmp_path / "os-release")


def not_called(*args):
    raise AssertionError("bootstrap must not run here")


@pytest.fixture(autouse=True)
def no_forced_base(monkeypatch):
    monkeypatch.delenv("SOCKLAB_BASE_IMAGE", raising=False)


def test_macos_pulls_without_reading_apt():
    # os_release None and no apt: before the fix this raised "no /etc/os-release" before pulling
    mac = HostFacts("Darwin", None, False, Path("/nonexistent/apt"), Path("/nonexistent/os-release"))
    engine = FakeEngine()
    assert images.choose_base(engine, print, mac, not_called) == (PULLED_BASE, "pulled")
    assert engine.pulls == [PULLED_BASE]


@pytest.mark.parametrize("release", [FEDORA, ARCH])
def test_hosts_without_apt_pull(release):
    host = HostFacts("Linux", release, False)
    assert images.choose_base(FakeEngine(), print, host, not_called) == (PULLED_BASE, "pulled")


def test_debian_with_a_registry_pulls_rather_than_bootstraps(tmp_path):
    engine = FakeEngine()
    assert images.choose_base(engine, print, debian_host(tmp_path), not_called) == (PULLED_BASE, "pulled")


def test_debian_without_registry_bootstraps_from_its_apt_sources(tmp_path):
    made = []
    engine = FakeEngine(registry=False)
    base = images.choose_base(engine, print, debian_host(tmp_path),
                              lambda e, codename, sources, tag: made.append((codename, sources, tag)))
    assert base == ("socklab/base:bookworm", "bootstrapped")
    assert engine.pulls == [PULLED_BASE], "the pull is tried first"
    [(codename, sources, tag)] = made
    assert (codename, tag) == ("bookworm", "socklab/base:bookworm")
    assert [s.uri for s in sources] == ["http://deb.example/debian"]


def test_a_local_base_already_made_is_used_without_network(tmp_path):
    engine = FakeEngine({"socklab/base:bookworm"}, registry=False)
    assert images.choose_base(engine, print, debian_host(tmp_path), not_called) == (
        "socklab/base:bookworm", "present")
    assert engine.pulls == []


@pytest.mark.parametrize("host, words", [
    (HostFacts("Darwin", None, False), ["Docker Desktop", f"docker pull {PULLED_BASE}", "SOCKLAB_BASE_IMAGE"]),
    (HostFacts("Linux", FEDORA, False), ["fedora has no apt", "docker load -i", "SOCKLAB_BASE_IMAGE"]),
    (HostFacts("Linux", ARCH, False), ["arch has no apt", f"docker pull {PULLED_BASE}"]),
    # apt on PATH but no codename (a derivative without VERSION_CODENAME): no guessing
    (HostFacts("Linux", "ID=weird\n", True), ["weird gives no Debian/Ubuntu codename"]),
])
def test_no_registry_and_no_apt_says_what_to_do(host, words):
    engine = FakeEngine(registry=False)
    with pytest.raises(ImageBuildError) as caught:
        images.choose_base(engine, print, host, not_called)
    assert caught.value.exit_code == 3
    assert engine.pulls == [PULLED_BASE]
    message = str(caught.value)
    assert "no such host" in message, "the pull's own reason is shown"
    for word in words:
        assert word in message


def test_forced_base_is_used_as_given(monkeypatch):
    monkeypatch.setenv("SOCKLAB_BASE_IMAGE", "mine:1")
    engine = FakeEngine({"mine:1"}, registry=False)
    assert images.choose_base(engine, print, HostFacts("Darwin", None, False), not_called) == ("mine:1", "forced")


def test_host_facts_of_this_machine_never_raise():
    facts = HostFacts.of_this_machine()
    assert facts.system
    assert isinstance(base_image.HostFacts.of_this_machine().can_bootstrap, bool)
