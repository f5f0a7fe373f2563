"""``python -m sandbox`` as a real process: the environment line, the URLs file, demo mode, clean stops."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "signum", [pytest.param(signal.SIGTERM, id="sigterm"), pytest.param(signal.SIGINT, id="sigint")]
)
def test_serves_every_fake_publishes_in_demo_mode_and_stops_on_a_signal(tmp_path: Path, signum: int) -> None:
    urls_file = tmp_path / "urls.json"
    command = [sys.executable, "-m", "sandbox", "--port", "0", "--seed", "4", "--packages", "80", "--demo", "0.3"]
    process = subprocess.Popen(
        [*command, "--urls-file", str(urls_file), "--github-latency-ms", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert process.stdout is not None
        env = json.loads(process.stdout.readline())
        assert json.loads(urls_file.read_text()) == env
        assert set(env) == {
            "CHANGELOGS_PYPI_URL", "CHANGELOGS_RUBYGEMS_URL", "CHANGELOGS_NPM_REPLICATE_URL",
            "CHANGELOGS_NPM_REGISTRY_URL", "CHANGELOGS_GITHUB_API_URL", "SANDBOX_CONTROL_URL",
        }  # fmt: skip
        serial = httpx.post(
            f"{env['CHANGELOGS_PYPI_URL']}/pypi",
            content="<?xml version='1.0'?><methodCall><methodName>changelog_last_serial</methodName></methodCall>",
            headers={"Content-Type": "text/xml"},
        )
        assert serial.status_code == 200 and "<int>" in serial.text
        rate = httpx.get(f"{env['CHANGELOGS_GITHUB_API_URL']}/rate_limit", headers={"User-Agent": "t"})
        assert rate.json()["resources"]["core"]["limit"] == 60
        assert httpx.get(f"{env['CHANGELOGS_RUBYGEMS_URL']}/api/v1/activity/latest.json").status_code == 200
        first = httpx.get(f"{env['SANDBOX_CONTROL_URL']}/world").json()["counts"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.2)
            counts = httpx.get(f"{env['SANDBOX_CONTROL_URL']}/world").json()["counts"]
            if counts["npm_changes"] > first["npm_changes"] and counts["pypi_last_serial"] > first["pypi_last_serial"]:
                break
        else:
            pytest.fail("demo mode published nothing on npm and PyPI within 10 s")
        process.send_signal(signum)
        assert process.wait(timeout=10) == 0
        assert '"published"' in (process.stderr.read() if process.stderr else "")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
