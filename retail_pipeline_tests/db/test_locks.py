"""one_at_a_time: a second holder waits for the first, across connections (as across runs)."""

from __future__ import annotations

import threading
import time

from retail_pipeline.db.engine import get_engine
from retail_pipeline.db.locks import one_at_a_time


def test_a_second_pass_waits_for_the_first_then_runs(db_url):
    engine = get_engine(db_url)
    events: list[str] = []
    holding = threading.Event()

    def second() -> None:
        holding.wait()
        with one_at_a_time(engine, "fulfilment:test"):
            events.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    with one_at_a_time(engine, "fulfilment:test"):
        holding.set()
        time.sleep(0.3)  # the other thread is blocked on the lock all this time
        events.append("first")
    thread.join(timeout=10)
    assert events == ["first", "second"]
    # Another name never waits on this one.
    with one_at_a_time(engine, "fulfilment:other"), one_at_a_time(engine, "fulfilment:test"):
        events.append("free again")
    assert events[-1] == "free again"
    engine.dispose()
