"""Starting, watching and stopping the service's processes (used by ``changelogs up`` and the end-to-end tests)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def stop_on_signals() -> Callable[[], bool]:
    """Catch SIGINT (Ctrl-C) and SIGTERM from now on; the function returned tells whether one came, so a
    supervising loop stops its children in order instead of dying in the middle."""
    caught = threading.Event()

    def stop(*_: object) -> None:
        caught.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    return caught.is_set


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def prefect_env(data_dir: Path, *, port: int) -> dict[str, str]:
    """The environment of a local Prefect server on SQLite under ``data_dir/prefect``, and of its clients."""
    home = (data_dir / "prefect").resolve()
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api",
        # The runner polls for scheduled and manual runs, and the server's scheduler creates the runs of new
        # deployments, every 10 and 60 s by default: a demo would wait a minute for its first crawl.
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
        "PREFECT_LOGGING_TO_API_BATCH_INTERVAL": "1",
    }


@dataclass
class Child:
    """One supervised child process, its output going to ``data/logs/<name>.log``."""

    name: str
    argv: list[str]
    env: Mapping[str, str]
    log_dir: Path
    ready: Callable[[], bool] | None = None
    restart: bool = True
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    _log: object = field(default=None, repr=False)

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{self.name}.log", "ab")  # noqa: SIM115 - kept open while the child runs
        self._log = log
        self.process = subprocess.Popen(
            self.argv,
            env={**os.environ, **self.env},
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches only the supervisor, which stops children in order
        )

    def wait_ready(self, timeout_s: float) -> None:
        """Block until ``ready()`` is true; raise with the log's tail if the child dies or times out."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")
            if self.ready is None or self.ready():
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f}s:\n{self.tail()}")
            time.sleep(0.2)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 15) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._log is not None:
            self._log.close()  # type: ignore[attr-defined]
            self._log = None

    def tail(self, lines: int = 30) -> str:
        path = self.log_dir / f"{self.name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def http_ok(url: str) -> Callable[[], bool]:
    """A readiness probe: ``url`` answers 2xx."""

    def probe() -> bool:
        try:
            return httpx.get(url, timeout=2).is_success
        except httpx.HTTPError:
            return False

    return probe


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def prefect_server(data_dir: Path, *, port: int, log_dir: Path) -> Child:
    env = prefect_env(data_dir, port=port)
    return Child(
        "prefect-server",
        python("-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port), "--analytics-off"),
        env,
        log_dir,
        ready=http_ok(f"http://127.0.0.1:{port}/api/health"),
    )


def sandbox(data_dir: Path, *, log_dir: Path, demo_s: float | None, packages: int = 300) -> Child:
    urls_file = (data_dir / "sandbox-urls.json").resolve()
    urls_file.unlink(missing_ok=True)
    argv = python("-m", "sandbox", "--port", "0", "--packages", str(packages), "--urls-file", str(urls_file))
    if demo_s:
        argv += ["--demo", str(demo_s)]
    return Child("sandbox", argv, {}, log_dir, ready=urls_file.exists, restart=False)


def sandbox_env(data_dir: Path) -> dict[str, str]:
    """The base URLs the sandbox wrote when it started."""
    data: dict[str, str] = json.loads((data_dir / "sandbox-urls.json").read_text())
    return data
