"""The bad-input table of docs/running.md, row by row, through the real `invoke` CLI: exit 2, the
message, and nothing created (the session's leak check)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def table_rows() -> list[tuple[str, list[str]]]:
    """(command, message fragments) of each row of the "## Bad input" table of docs/running.md."""
    text = (ROOT / "docs" / "running.md").read_text()
    section = text[text.index("## Bad input"):]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) != 2 or not cells[0].startswith("`invoke"):
            continue
        command = cells[0].strip("`")
        rows.append((command, re.findall(r"`([^`]+)`", cells[1])))
    return rows


ROWS = table_rows()


def test_the_table_is_there():
    assert len(ROWS) >= 15 and all(fragments for _, fragments in ROWS)


@pytest.mark.parametrize("command, fragments", ROWS, ids=[c for c, _ in ROWS])
def test_bad_input_exits_2_with_its_message_and_creates_nothing(command, fragments, engine, no_leftovers):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env=env)
    assert done.returncode == 2, (command, done.stdout[-2000:], done.stderr[-2000:])
    message = " ".join(done.stderr.split())
    for fragment in fragments:
        assert fragment in message, (command, fragment, done.stderr)
    assert "Traceback" not in done.stderr
