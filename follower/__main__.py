"""``python -m follower``: run the npm follower until SIGTERM or Ctrl-C (then exit 0 with the cursor saved).

``CHANGELOGS_NPM_START`` (now | 0 | <seq>) says where a first run starts; ``CHANGELOGS_FOLLOWER_HEALTH_PORT``
serves ``/healthz`` on loopback when set (0: any free port, logged).
"""

from __future__ import annotations

import asyncio
import logging
import signal

from core.clients import NpmClient, RetryPolicy, open_http
from core.queue import open_queue
from core.settings import load_settings
from core.store import open_records
from follower.follower import Follower, parse_start
from follower.health import serve_health


async def main() -> None:
    settings = load_settings()
    records = open_records(settings)
    queue = open_queue(settings)
    async with open_http(settings) as http:
        # No retries in the client: the follower retries every failure itself, with its own back-off, until
        # stopped, and counts each one.
        npm = NpmClient(
            http,
            base_url=settings.npm_registry_url,
            replicate_url=settings.npm_replicate_url,
            retry=RetryPolicy(attempts=1),
        )
        follower = Follower(
            npm,
            records=records,
            queue=queue,
            start=parse_start(settings.npm_start),
            batch_size=settings.npm_batch_size,
            concurrency=settings.npm_fetch_concurrency,
            poll_interval_s=settings.npm_poll_interval_s,
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, follower.stop)
        health = None
        if settings.follower_health_port is not None:
            health = await serve_health(follower.status, port=settings.follower_health_port)
        try:
            await follower.run()
        finally:
            if health is not None:
                health.close()
            await queue.aclose()
            await records.aclose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the follower's own
    asyncio.run(main())
