"""Live console events: the triggers of sql/009 and the ``GET /console/events`` stream, through a real
uvicorn server (the part that matters is how the stream ends: on disconnect and on shutdown)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, text

from retail_pipeline.api.app import create_app
from retail_pipeline.api.server import SidecarServer, sidecar_server
from retail_pipeline.db.urls import libpq_url
from retail_pipeline.settings import Settings
from retail_pipeline_tests.seeds.ops import add_conversation, add_order, add_shipment, add_task


def notifications(database_url: str, write) -> list[dict]:
    """The console events sent while `write(conn)` runs and commits."""
    with psycopg.connect(libpq_url(database_url), autocommit=True) as listener:
        listener.execute("LISTEN console_events")
        write()
        return [json.loads(n.payload) for n in listener.notifies(timeout=0.5)]


def test_new_rows_and_status_changes_notify_small_payloads(engine: Engine, database_url: str):
    ids: dict[str, int] = {}

    def write():
        with engine.begin() as conn:
            ids["task"] = add_task(conn, "label_failed", "order-1", channel="bestbuy")
            ids["order"] = add_order(conn, "BB-1001", ["pending_acceptance"])
            add_conversation(conn, "T-1", inbound_at=None)
            conn.execute(
                text(
                    "INSERT INTO retail.messages (conversation_id, direction, author_type, body)"
                    " SELECT id, 'inbound', 'customer', 'Where is my parcel? ' || repeat('x', 500)"
                    "   FROM retail.conversations WHERE external_thread_id = 'T-1'"
                )
            )
            add_shipment(conn, ids["order"], "pending")

    events = notifications(database_url, write)
    by_type = {e["type"]: e for e in events}
    assert [e["type"] for e in events] == ["task", "order", "message", "shipment"]
    assert by_type["task"] | {"title": None} == {
        "type": "task", "action": "created", "id": ids["task"], "kind": "label_failed", "severity": "error",
        "status": "open", "previous_status": None, "channel": "bestbuy", "title": None,
    }  # fmt: skip
    assert by_type["order"]["id"] == ids["order"] and by_type["order"]["external_order_id"] == "BB-1001"
    assert by_type["message"]["direction"] == "inbound"
    assert len(by_type["message"]["title"]) == 140  # bodies are cut: payloads stay small
    assert by_type["shipment"]["order_id"] == ids["order"]

    # An update that changes a status notifies; one that does not (a bump) stays silent.
    def update():
        with engine.begin() as conn:
            conn.execute(text("UPDATE retail.ops_tasks SET occurrences = occurrences + 1"))
            conn.execute(
                text("UPDATE retail.ops_tasks SET status = 'acknowledged' WHERE id = :id"),
                {"id": ids["task"]},
            )

    [changed] = notifications(database_url, update)
    assert (changed["type"], changed["action"], changed["status"], changed["previous_status"]) == (
        "task", "status", "acknowledged", "open",
    )  # fmt: skip

    # A rolled-back write sends nothing.
    def rolled_back():
        with engine.connect() as conn:
            add_task(conn, "other", "never")
            conn.rollback()

    assert notifications(database_url, rolled_back) == []


BULK_ORDERS = text(
    "INSERT INTO retail.orders (channel, external_order_id, currency, total, placed_at)"
    " SELECT 'bestbuy', :prefix || g, 'CAD', 10, now() FROM generate_series(1, :n) g"
)


def test_a_bulk_insert_sends_one_summary_from_one_statement_level_trigger(engine: Engine, database_url: str):
    n = 10_000

    def write():
        with engine.begin() as conn:
            conn.execute(BULK_ORDERS, {"prefix": "bulk-", "n": n})

    events = notifications(database_url, write)
    assert events == [{"type": "order", "action": "created", "count": n, "title": f"{n} order rows added"}]
    # Its cost is one call per statement over the transition table, never per-row work: the trigger is
    # declared so (a timing here would only measure the host's other work; benchmarks measure time).
    with engine.connect() as conn:
        row_level, new_table = conn.execute(
            text(
                "SELECT (tgtype & 1) = 1, tgnewtable FROM pg_trigger"
                " WHERE tgrelid = 'retail.orders'::regclass AND tgname = 'orders_console_insert'"
            )
        ).one()
    assert row_level is False and new_table is not None


# --- the stream, through uvicorn -----------------------------------------------------------------


@dataclass
class Running:
    base_url: str
    server: SidecarServer
    thread: threading.Thread

    def stop(self, within: float = 5.0) -> float:
        started = time.monotonic()
        self.server.should_exit = True
        self.thread.join(timeout=within)
        assert not self.thread.is_alive(), "uvicorn did not shut down"
        return time.monotonic() - started


@pytest.fixture
def sidecar(settings_env: Settings, engine: Engine) -> Iterator[Running]:
    app = create_app(settings_env.model_copy(update={"console_events_heartbeat_seconds": 0.2}))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = sidecar_server(app, "127.0.0.1", 0, log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    host, port = sock.getsockname()
    running = Running(f"http://{host}:{port}", server, thread)
    yield running
    if thread.is_alive():
        running.stop()


def read_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs, and ("comment", text) for heartbeat lines, from an SSE line stream."""
    event, data = "message", ""
    for line in lines:
        if line.startswith(":"):
            yield "comment", line[1:].strip()
        elif line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif line == "" and data:
            yield event, data
            event, data = "message", ""


def test_the_stream_relays_events_and_ends_on_disconnect_and_shutdown(
    sidecar: Running, engine: Engine, viewer
):
    app = sidecar.server.sidecar_app
    with httpx.Client(base_url=sidecar.base_url, timeout=5) as http:
        assert http.get("/console/events").status_code == 403  # needs a viewer

        with http.stream("GET", "/console/events", headers=viewer) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = read_events(response.iter_lines())
            assert next(events) == ("ready", json.dumps({"listening": True}))
            assert next(events) == ("comment", "heartbeat")
            with engine.begin() as conn:
                task_id = add_task(conn, "run_failure", "run-abc")
            kind, data = next(e for e in events if e[0] != "comment")
            assert kind == "task" and json.loads(data)["id"] == task_id

        # The client went away: its stream ended and the last one gave the LISTEN connection back.
        deadline = time.monotonic() + 5
        while app.state.console_events._queues or app.state.console_events.listening.is_set():
            assert time.monotonic() < deadline, "the stream outlived its client"
            time.sleep(0.02)

        # Shutdown with a client connected: the stream ends and uvicorn exits promptly.
        with http.stream("GET", "/console/events", headers=viewer) as response:
            events = read_events(response.iter_lines())
            assert next(events)[0] == "ready"
            assert sidecar.stop() < 3
            assert all(kind == "comment" for kind, _ in events)  # the body ended cleanly


def test_revoking_the_key_ends_its_open_stream(sidecar: Running, engine: Engine, monkeypatch):
    from retail_pipeline.api.console import events as console_events
    from retail_pipeline.api.keys import create_api_key, revoke_api_key

    monkeypatch.setattr(console_events, "RECHECK_SECONDS", 0.3)
    key = create_api_key(engine, "viewer")
    with (
        httpx.Client(base_url=sidecar.base_url, timeout=5) as http,
        http.stream("GET", "/console/events", headers={"X-API-Key": key}) as response,
    ):
        events = read_events(response.iter_lines())
        assert next(events)[0] == "ready"
        revoke_api_key(engine, "_".join(key.split("_")[:2]))
        started = time.monotonic()
        assert next(e for e in events if e[0] != "comment") == ("signed_out", "{}")
        assert time.monotonic() - started < 2
        assert all(kind == "comment" for kind, _ in events)  # and the stream ends there
    with httpx.Client(base_url=sidecar.base_url, timeout=5) as http:
        assert http.get("/console/events", headers={"X-API-Key": key}).status_code == 401
