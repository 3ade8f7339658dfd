"""The registry-less base: apt configuration parsing and the bootstrap command."""
from pathlib import Path

import pytest

from lab.engines import base_image
from lab.errors import ImageBuildError

DEB822 = """\
Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://mirror.example/debian
Suites: bookworm
Components: main

Types: deb
URIs: https://third.party/apt
Suites: nodistro cloud-sdk-bookworm
Components: main
"""


def test_deb822_keeps_only_the_distributions_binary_suites():
    sources = base_image.parse_deb822(DEB822, "bookworm")
    assert [(s.suite, s.components) for s in sources] == [
        ("bookworm", ("main", "contrib")), ("bookworm-updates", ("main", "contrib"))]
    assert sources[0].signed_by.endswith("debian-archive-keyring.gpg")


def test_one_line_sources_with_options_and_comments():
    text = ("# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/ubuntu noble main universe\n"
            "deb http://m.example/ubuntu noble-security main # trailing\n"
            "deb http://other.example/x stable main\n")
    sources = base_image.parse_one_line(text, "noble")
    assert [(s.uri, s.suite, s.signed_by) for s in sources] == [
        ("http://m.example/ubuntu", "noble", "/k.gpg"), ("http://m.example/ubuntu", "noble-security", None)]


def test_codename_from_os_release():
    assert base_image.host_codename('ID=debian\nVERSION_CODENAME=bookworm\n') == "bookworm"
    assert base_image.host_codename('ID=ubuntu\nUBUNTU_CODENAME=noble\n') == "noble"
    with pytest.raises(ImageBuildError):
        base_image.host_codename("ID=arch\n")


def test_no_matching_source_is_a_clear_error(tmp_path: Path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("deb http://x.example/ stable main\n")
    release = tmp_path / "os-release"
    release.write_text("VERSION_CODENAME=bookworm\n")
    with pytest.raises(ImageBuildError, match="no apt repository for 'bookworm'"):
        base_image.host_apt_sources(tmp_path, release)


def test_mmdebstrap_command_uses_the_given_sources_file():
    argv = base_image.mmdebstrap_argv("bookworm", Path("/tmp/h.sources"), Path("/tmp/r.tar"))
    assert argv[0] == "mmdebstrap" and argv[-3:] == ["bookworm", "/tmp/r.tar", "/tmp/h.sources"]
    assert "--include=" + ",".join(base_image.BOOTSTRAP_PACKAGES) in argv


def test_deb822_round_trip():
    source = base_image.AptSource("http://m.example/debian", "bookworm", ("main",), "/k.gpg")
    assert base_image.parse_deb822(source.deb822(), "bookworm") == [source]
