"""``python -m follower``: run the npm follower until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import signal

from core.clients import NpmClient, open_http
from core.queue import open_queue
from core.settings import load_settings
from core.store import open_records
from follower.follower import Follower


async def main() -> None:
    settings = load_settings()
    records = open_records(settings)
    queue = open_queue(settings)
    async with open_http(settings) as http:
        npm = NpmClient(http, base_url=settings.npm_registry_url, replicate_url=settings.npm_replicate_url)
        follower = Follower(
            npm,
            records=records,
            queue=queue,
            batch_size=settings.npm_batch_size,
            concurrency=settings.npm_fetch_concurrency,
            poll_interval_s=settings.npm_poll_interval_s,
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, follower.stop)
        try:
            await follower.run()
        finally:
            await queue.aclose()
            await records.aclose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the follower's own
    asyncio.run(main())
