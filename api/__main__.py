"""``python -m api [--host H] [--port P] [--no-access-log]``: the api under uvicorn, tuned for the live feed.

The same as ``uvicorn --factory api.asgi:create_asgi`` plus what a thousand websocket browsers need: uvloop and
httptools, and no per-message-deflate (each event would otherwise be compressed once per browser: measured at a
fifth of the server's CPU under ``bench.feed``; the events are a few hundred bytes).
"""

from __future__ import annotations

import argparse

import uvicorn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m api", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    uvicorn.run(
        "api.asgi:create_asgi",
        factory=True,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()
