"""One pass at a time across every run and process: a PostgreSQL session advisory lock by name.

Fulfilment passes (acceptance, labels, tracking) and each channel's stock push pick their work by
state; two runs working the same rows at once (a schedule tick overlapping a slow run, a backfill
beside the sensor) could both call the channel before either commits. Holding the lock, the second
pass waits, then finds the work done.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text


def lock_key(name: str) -> int:
    return zlib.crc32(name.encode())


@contextmanager
def one_at_a_time(engine: Engine, name: str) -> Iterator[Connection]:
    """Holds the advisory lock `name` (waiting for it) on a connection of its own, yielded for reads
    that must see the state as of taking the lock; released however the block ends."""
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key(name)})
        conn.commit()  # the lock is session-level: it outlives this transaction
        try:
            yield conn
        finally:
            conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(name)})
            conn.commit()
