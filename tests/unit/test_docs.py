"""README.md and docs/*.md name nothing that is not there: every repository path they mention
exists, every relative link (and its #anchor) resolves, and the list of checks is the registry's.

Why: the docs are read by newcomers who take a named file as a promise; code moves (issue 16 moved
whole layers into packages), and a stale path is found here rather than by a confused reader.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: folders and files of this repository that the docs name by path (relative to the repository root)
REPO_FOLDERS = ("lab", "tests", "images", "scenarios", "bench", "compose", "classroom", "docs", ".ci",
                ".github")
REPO_FILES = ("bootstrap", "tasks.py", "noxfile.py", "pyproject.toml", "action.yml")
_PATH = re.compile(
    r"(?<![\w./~$-])(?:\./)?"                              # not the tail of a longer path, a URL or ~/...
    r"((?:" + "|".join(re.escape(f) for f in REPO_FOLDERS) + r")/[\w.*<>{}/@-]*"
    r"|(?:" + "|".join(re.escape(f) for f in REPO_FILES) + r")(?![\w.-]))")
#: placeholders a path may hold: NAME, HOST, <student>, {name}, a glob's *
_PLACEHOLDER = re.compile(r"<[^>/]*>|\{[^}/]*\}|\b[A-Z][A-Z_]+\b")
#: a file named without its folder (`runner.py`, `tcp-echo.toml`): it must exist somewhere in the repository
_BARE_NAME = re.compile(r"(?<![\w./~$-])([\w-]+\.(?:py|toml|yml|yaml|sh))\b")
#: bare names the docs use for files that are not ours: a student's or a user's
NOT_OURS = {
    "grade.yml",                      # the workflow a teacher adds to the assignment repository
    "tcp-server.py", "tcpserver.py",  # spellings of a student's file that `invoke grade` accepts
    "csv.py", "venv.py",              # modules a hostile checkout may hold, never imported
}
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def mentioned_paths(text: str) -> set[str]:
    """Repository paths named in a page's text (prose, code spans and code blocks alike)."""
    found = set()
    for match in _PATH.finditer(text):
        path = match.group(1).rstrip(".,;:)")
        found.add(path)
    return found


def bare_names(text: str) -> set[str]:
    """File names a page gives without their folder."""
    return set(_BARE_NAME.findall(text))


def repository_names(root: Path = ROOT) -> set[str]:
    """The names of the repository's files and folders (its virtualenvs and git data left out)."""
    names: set[str] = set()
    for _, folders, files in os.walk(root):
        folders[:] = [f for f in folders if f not in {".git", ".venv", ".nox", "__pycache__", "node_modules"}]
        names.update(folders, files)
    return names


def exists(path: str, root: Path = ROOT) -> bool:
    """Whether a mentioned path exists; a placeholder (`compose/NAME.yml`) must match some file."""
    pattern = _PLACEHOLDER.sub("*", path.rstrip("/"))
    if "*" in pattern:
        return any(root.glob(pattern))
    return (root / pattern).exists()


def anchors(text: str) -> set[str]:
    """GitHub's anchors for a page's headings: lower case, punctuation dropped, spaces to '-'."""
    slugs: set[str] = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", _FENCE.sub("", text), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", "")).replace(" ", "-")
        base, n = slug, 1
        while slug in slugs:
            slug, n = f"{base}-{n}", n + 1
        slugs.add(slug)
    return slugs


def broken_links(page: Path) -> list[str]:
    """Relative links of a page whose file (or #anchor in it) does not exist."""
    broken = []
    text = page.read_text()
    for target in _LINK.findall(_FENCE.sub("", text)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: — not ours to check
            continue
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked.read_text()):
            broken.append(target)
    return broken


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_path_a_page_names_exists(page):
    missing = sorted(p for p in mentioned_paths(page.read_text()) if not exists(p))
    assert not missing, f"{page.relative_to(ROOT)} names paths that do not exist: {missing}"


def test_every_file_named_without_its_folder_exists():
    names = repository_names()
    missing = {str(page.relative_to(ROOT)): sorted(bare_names(page.read_text()) - names - NOT_OURS) for page in PAGES}
    assert not any(missing.values()), f"file names that are nowhere in the repository: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_resolves(page):
    assert not broken_links(page), f"{page.relative_to(ROOT)}: broken links {broken_links(page)}"


def test_the_docs_index_lists_every_page():
    index = (ROOT / "docs" / "README.md").read_text()
    pages = {p.name for p in (ROOT / "docs").glob("*.md")} - {"README.md"}
    linked = {target.partition("#")[0] for target in _LINK.findall(index)}
    assert pages <= linked, f"docs/README.md does not link {sorted(pages - linked)}"


def test_the_check_list_is_the_registry():
    from lab.checks import REGISTRY

    text = (ROOT / "docs" / "writing-scenarios.md").read_text()
    section = text[text.index("## Checks available"):]
    section = section[:section.find("\n## ", 1)] if "\n## " in section[1:] else section
    listed = set(re.findall(r"`([a-z][a-z0-9_]*)`", section))
    assert set(REGISTRY) <= listed, f"checks missing from the list: {sorted(set(REGISTRY) - listed)}"
    assert listed <= set(REGISTRY), f"listed but no such check: {sorted(listed - set(REGISTRY))}"


# The finders themselves: they must see what a reader sees, or the tests above pass on nothing.

def test_the_path_finder_sees_paths_in_prose_code_and_links():
    text = ("see `lab/nope.py`, tests/unit/x.py and [a](docs/y.md); `compose/NAME.yml`;\n"
            "```sh\n./bootstrap --plan\n```\nnot ~/.cache/socklab, /etc/apt/x, https://h/lab/z, "
            "no/such/UDPServer.py or DIR/NAME.json")
    assert mentioned_paths(text) == {"lab/nope.py", "tests/unit/x.py", "docs/y.md", "compose/NAME.yml",
                                     "bootstrap"}


def test_the_bare_name_finder_skips_paths_and_home_files():
    text = "`runner.py` and tcp-echo.toml, not lab/x.py, ~/.config/socklab/nodes.toml or .venv/bin/invoke"
    assert bare_names(text) == {"runner.py", "tcp-echo.toml"}


def test_a_path_that_is_not_there_is_reported(tmp_path):
    (tmp_path / "compose").mkdir()
    (tmp_path / "compose" / "udp-echo.yml").write_text("")
    assert exists("compose/NAME.yml", tmp_path) and exists("compose/", tmp_path)
    assert not exists("compose/NAME.yaml", tmp_path) and not exists("lab/checks.py", tmp_path)


def test_a_broken_link_or_anchor_is_reported(tmp_path):
    (tmp_path / "a.md").write_text("# A page\n\n## Its part: one\n")
    page = tmp_path / "b.md"
    page.write_text("[ok](a.md#its-part-one) [ok](#b) [web](https://example.invalid/x)\n"
                    "[gone](c.md) [no anchor](a.md#nope)\n# B\n")
    assert broken_links(page) == ["c.md", "a.md#nope"]
