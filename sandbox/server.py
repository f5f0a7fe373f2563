"""Serving every fake of a world: on consecutive ports for ``python -m sandbox``, or on free loopback ports in a
background thread for tests (``Sandbox``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import sys
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Any

import httpx
import uvicorn
import uvloop
from starlette.types import ASGIApp

from sandbox import github, npm, pypi, rubygems
from sandbox.world import World

# port offsets from the base port, in this order
APPS = ("pypi", "rubygems", "npm_replicate", "npm_registry", "github")
logger = logging.getLogger("sandbox")


class _DropTruncationNoise(logging.Filter):
    """The truncation fault ends responses early on purpose; uvicorn logs each one as an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "ASGI callable returned without completing response."


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to its owner (several run in one loop, maybe off the main thread)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def create_apps(world: World) -> dict[str, ASGIApp]:
    """One ASGI app per fake, keyed like ``APPS``."""
    return {
        "pypi": pypi.create_app(world),
        "rubygems": rubygems.create_app(world),
        "npm_replicate": npm.create_replicate_app(world),
        "npm_registry": npm.create_registry_app(world),
        "github": github.create_app(world),
    }


def bind(host: str, port: int) -> dict[str, socket.socket]:
    """Listening sockets for every app: ``port``, ``port + 1``… or, with port 0, any free ports."""
    sockets = {}
    try:
        for offset, name in enumerate(APPS):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sockets[name] = sock
            sock.bind((host, port + offset if port else 0))
            sock.listen(2048)
            sock.setblocking(False)
    except OSError:
        for sock in sockets.values():
            sock.close()
        raise
    return sockets


def urls_of(host: str, sockets: dict[str, socket.socket]) -> dict[str, str]:
    """The base URL of each app."""
    return {name: f"http://{host}:{sock.getsockname()[1]}" for name, sock in sockets.items()}


def env_of(urls: dict[str, str]) -> dict[str, str]:
    """The environment that points the service at the sandbox."""
    return {
        "CHANGELOGS_PYPI_URL": urls["pypi"],
        "CHANGELOGS_RUBYGEMS_URL": urls["rubygems"],
        "CHANGELOGS_NPM_REPLICATE_URL": f"{urls['npm_replicate']}/registry",
        "CHANGELOGS_NPM_REGISTRY_URL": urls["npm_registry"],
        "CHANGELOGS_GITHUB_API_URL": urls["github"],
        "SANDBOX_CONTROL_URL": f"{urls['github']}/_sandbox",
    }


async def serve(
    world: World, sockets: dict[str, socket.socket], stop: asyncio.Event, *, demo_s: float | None = None
) -> None:
    """Serve every app of ``world`` on ``sockets`` until ``stop`` is set; with ``demo_s``, publish that often."""
    uvicorn_logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropTruncationNoise) for f in uvicorn_logger.filters):
        uvicorn_logger.addFilter(_DropTruncationNoise())
    apps = create_apps(world)
    servers = [
        _Server(
            uvicorn.Config(
                apps[name],
                log_config=None,  # leave logging to the process that runs the sandbox
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=1,
                timeout_keep_alive=30,
                backlog=2048,
            )
        )
        for name in APPS
    ]
    tasks = [asyncio.create_task(s.serve(sockets=[sockets[name]])) for s, name in zip(servers, APPS, strict=True)]
    demo = asyncio.create_task(_demo(world, demo_s)) if demo_s else None
    try:
        await stop.wait()
    finally:
        if demo is not None:
            demo.cancel()
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)


async def _demo(world: World, every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        release = world.publish()
        print(json.dumps({"published": release}), file=sys.stderr, flush=True)


class Sandbox:
    """Every fake of a generated world, served on free loopback ports from a background thread.

    Use it as a context manager::

        with Sandbox(seed=1, packages=300) as sandbox:
            env = sandbox.env  # CHANGELOGS_*_URL and SANDBOX_CONTROL_URL
            sandbox.publish("npm")

    ``world_options`` go to ``World`` (``npm_changes``, ``pypi_events``, ``mix``, ``now``…). The methods drive the
    sandbox through its control API, so they act exactly as a benchmark or another process would.
    """

    def __init__(
        self,
        seed: int = 1,
        packages: int = 300,
        *,
        host: str = "127.0.0.1",
        demo_s: float | None = None,
        github_latency_ms: float = 0,
        **world_options: Any,
    ) -> None:
        self.world = World(seed, packages, **world_options)
        if github_latency_ms:
            self.world.control.set_faults("github", latency_ms=github_latency_ms)
        self._host = host
        self._demo_s = demo_s
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.urls: dict[str, str] = {}
        self.env: dict[str, str] = {}
        self._client: httpx.Client | None = None

    def __enter__(self) -> Sandbox:
        sockets = bind(self._host, 0)
        self.urls = urls_of(self._host, sockets)
        self.env = env_of(self.urls)
        self._thread = threading.Thread(target=self._run, args=(sockets,), name="sandbox", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=30) or self._failure is not None:
            self.__exit__(None, None, None)
            raise RuntimeError("the sandbox did not start") from self._failure
        self._client = httpx.Client(base_url=self.env["SANDBOX_CONTROL_URL"], timeout=60)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._client is not None:
            self._client.close()
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self, sockets: dict[str, socket.socket]) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._loop.call_soon(self._ready.set)
            await serve(self.world, sockets, self._stop, demo_s=self._demo_s)

        try:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(main())
        except BaseException as exc:  # reported to __enter__, which is waiting on another thread
            self._failure = exc
            self._ready.set()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if self._client is None:
            raise RuntimeError("the sandbox is not running: use it as a context manager")
        response = self._client.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        """Request counters per service, and the GitHub budget buckets."""
        return self._call("GET", "/stats")  # type: ignore[no-any-return]

    def reset_stats(self) -> None:
        """Zero every counter."""
        self._call("POST", "/reset-stats")

    def publish(self, registry: str | None = None, package: str | None = None) -> dict[str, Any]:
        """Publish a release (see ``World.publish``); returns ``{registry, package, version, repo, directory}``."""
        return self._call("POST", "/publish", {"registry": registry, "package": package})  # type: ignore[no-any-return]

    def set_faults(self, service: str, **faults: Any) -> dict[str, Any]:
        """Update the faults of ``service`` ("github", "npm", "pypi", "rubygems" or "all"); ``clear=True`` resets."""
        return self._call("POST", "/faults", {"service": service, **faults})  # type: ignore[no-any-return]

    def set_budget(self, remaining: int, reset_in_s: float = 3600) -> None:
        """Set the GitHub budget of every token (and of anonymous clients) until ``reset_in_s`` from now."""
        self._call("POST", "/budget", {"remaining": remaining, "reset_in_s": reset_in_s})

    def summary(self) -> dict[str, Any]:
        """``GET /_sandbox/world``: counts and expected outcomes."""
        return self._call("GET", "/world")  # type: ignore[no-any-return]
