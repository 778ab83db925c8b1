"""Keeping the garbage collector off the objects a process keeps for its whole life."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def long_lived_objects_frozen() -> Iterator[None]:
    """The process's existing objects (Dagster, SQLAlchemy, pydantic, FastAPI: a few hundred thousand, all
    of them outliving the block) left out of the garbage collector's passes until the block ends.

    Work that allocates a lot makes the collector run often, and its full passes walked every one of those
    objects again to find nothing: about 0.35 s of CPU in a 1,700-page scrape (a twentieth of it), and
    ~150 ms every few dozen console pages in the sidecar (a latency spike a person sees). Frozen objects
    are still freed by reference counting, and `unfreeze` hands them back to the collector afterwards, so
    nothing is kept for good. A process that froze objects itself (a pre-fork server, an enclosing block)
    keeps its own arrangement: nothing is done then."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
