"""`invoke doctor` on the real engine: names the endpoint and the engine's kernel, and where netem
is missing gives the advice for this platform (here the engine's kernel is the host's)."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from lab.engines import base_image
from lab.impairment.platform_advice import netem_advice

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def test_doctor_reports_the_engine_kernel_and_fitting_advice(engine, built_images):
    done = subprocess.run([sys.executable, "-m", "invoke", "doctor"], cwd=ROOT, capture_output=True,
                          text=True, timeout=180, env={**os.environ, "COLUMNS": "400"})
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert f"the engine's kernel is {platform.release()}" in text
    assert "engine: Docker" in text
    if "netem: no:" in text:
        host = base_image.HostFacts.of_this_machine()
        advice = netem_advice(platform.release(), platform.system(), platform.release(), host.os_release)
        assert " ".join(advice.split()) in text
    else:
        assert "\nnetem:" not in done.stdout
