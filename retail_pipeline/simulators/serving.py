"""Serving an ASGI app on loopback for code that needs a real socket (sync clients, subprocesses)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from starlette.types import ASGIApp


@contextmanager
def serve_in_thread(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, startup_timeout: float = 10.0
) -> Iterator[str]:
    """Run `app` under uvicorn in a background thread; yield its base URL once it answers.

    port=0 picks a free port. We bind the socket ourselves and hand it to uvicorn, so the port is
    known before the server starts and no other process can take it in between.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    base_url = f"http://[{host}]:{bound_port}" if family == socket.AF_INET6 else f"http://{host}:{bound_port}"

    # A short graceful-shutdown window: a request hanging in a timeout fault must not hold up exit.
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn:{bound_port}", daemon=True
    )
    thread.start()
    try:
        _wait_until_answering(server, thread, base_url, startup_timeout)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _wait_until_answering(
    server: uvicorn.Server, thread: threading.Thread, base_url: str, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError(f"the server for {base_url} stopped while starting")
        if server.started:
            try:
                httpx.get(f"{base_url}/", timeout=1.0)  # any status: it answers
                return
            except httpx.TransportError:
                pass
        time.sleep(0.01)
    raise TimeoutError(f"the server for {base_url} did not answer within {timeout} s")
