"""The ASGI entry point: FastAPI wrapped by socket.io (``uvicorn --factory api.asgi:create_asgi``)."""

from __future__ import annotations

import logging

import socketio
from starlette.types import ASGIApp

from api.app import create_app
from api.fanout import Fanout
from api.live import create_socket_server
from api.routes.search import fast_search
from core.search import SearchIndex
from core.settings import Settings, load_settings


def create_asgi(settings: Settings | None = None) -> ASGIApp:
    """Wrap, don't mount: socket.io answers ``/socket.io/`` and hands every other request to FastAPI; ``Fanout``
    in front keeps each websocket's ``send`` for the live feed's broadcasts, and ``fast_search`` answers the
    autocomplete requests first."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings or load_settings()
    sio = create_socket_server()
    fanout = Fanout()
    app = create_app(settings, sio, fanout)

    def current_index() -> SearchIndex | None:
        services = getattr(app.state, "services", None)
        return services.search if services is not None else None

    return fast_search(fanout.wrap(socketio.ASGIApp(sio, other_asgi_app=app)), current_index)
