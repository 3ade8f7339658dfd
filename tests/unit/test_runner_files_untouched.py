"""Tests never write into the job summary or outputs of the CI step that runs them."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import RUNNER_FILES

ROOT = Path(__file__).resolve().parents[2]


def test_the_session_runs_without_the_runners_files():
    assert not [name for name in RUNNER_FILES if name in os.environ]


def test_a_report_written_by_a_test_stays_out_of_the_real_summary(tmp_path):
    """A real pytest run, inside a fake step, of a test that writes a report as a fixture would."""
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    summary.write_text("")
    output.write_text("")
    probe = ROOT / "tests" / "unit" / "_probe_writes_a_report.py"
    probe.write_text(
        "from tests.report_samples import udp_loss_record, written_report\n"
        "def test_writes(tmp_path):\n"
        "    written_report(tmp_path, udp_loss_record())\n")
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(probe)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary),
                                   "GITHUB_OUTPUT": str(output)})
    finally:
        probe.unlink()
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary.read_text() == "" and output.read_text() == ""
