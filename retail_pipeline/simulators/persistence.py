"""The simulated world outlives the process that serves it, as the real services do.

A marketplace keeps our listings and its orders between two `run-once` invocations; a simulator that
forgot them would make every second run see 500 listings "removed remotely". When the simulators stop
(run-once's loopback server, `retail-pipeline simulate`, the demo), every system's backend and the
clock are pickled to `RETAIL_DATA_DIR/simulators/state.pickle`; the next start with the same world
(seed, catalogue size, start time) takes them back. Delete the file (or change the seed) for a new world.

Backends hold references to the shared clock/journal/faults and to threading locks: the shared objects
are pickled by reference (persistent ids) and rebound to the new simulator's, locks are recreated.
Routes close over their backend object, so a restored backend's state is copied into the live one.
The file is our own data (pickle executes code: never load one from elsewhere).
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .app import Simulator

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))


def state_path(data_dir: Path) -> Path:
    return data_dir / "simulators" / "state.pickle"


def _world(sim: Simulator) -> dict[str, Any]:
    """What must match for a saved state to describe this world."""
    config = sim.config
    return {
        "version": FORMAT_VERSION,
        "seed": config.seed,
        "products_per_supplier": config.products_per_supplier,
        "start_time": config.start_time.isoformat(),
        "systems": sorted(sim.systems),
    }


def _shared(sim: Simulator) -> dict[str, Any]:
    return {
        "sim": sim,
        "clock": sim.clock,
        "journal": sim.journal,
        "faults": sim.faults,
        "config": sim.config,
    }


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, shared: dict[str, Any]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._ids = {id(obj): name for name, obj in shared.items()}

    def persistent_id(self, obj: Any) -> str | None:
        return self._ids.get(id(obj))

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _LOCK_TYPES):
            return (threading.RLock if "RLock" in type(obj).__name__ else threading.Lock, ())
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, shared: dict[str, Any]) -> None:
        super().__init__(file)
        self._shared = shared

    def persistent_load(self, pid: str) -> Any:
        return self._shared[pid]


def save_state(sim: Simulator, path: Path) -> list[str]:
    """Pickle every system's backend and the clock; returns the systems saved. A system whose state
    cannot be pickled is left out (logged), so it starts fresh next time rather than breaking the rest."""
    saved: dict[str, bytes] = {}
    for name, system in sim.systems.items():
        backend = getattr(system.state, "backend", None)
        if backend is None:
            continue
        buffer = io.BytesIO()
        try:
            _Pickler(buffer, _shared(sim)).dump(backend)
        except (pickle.PicklingError, TypeError, AttributeError) as error:
            log.warning("simulator %s: state not saved (%s)", name, error)
            continue
        saved[name] = buffer.getvalue()
    snapshot = {"world": _world(sim), "elapsed": sim.clock._elapsed, "backends": saved}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL))
    os.replace(partial, path)  # a crash while writing leaves the previous state, never half a file
    return sorted(saved)


def load_state(sim: Simulator, path: Path) -> list[str]:
    """Take back a saved world into `sim` (same seed, size, start time and systems); returns the systems
    restored, [] when there is nothing (or nothing matching) to restore."""
    if not path.is_file():
        return []
    try:
        snapshot = pickle.loads(path.read_bytes())
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as error:
        log.warning("simulator state %s unreadable, starting fresh (%s)", path, error)
        return []
    if snapshot.get("world") != _world(sim):
        log.info("simulator state %s is another world (seed, size or systems differ): starting fresh", path)
        return []
    restored = []
    for name, blob in snapshot["backends"].items():
        live = getattr(sim.systems[name].state, "backend", None)
        try:
            saved = _Unpickler(io.BytesIO(blob), _shared(sim)).load()
        except Exception as error:  # one system's stale state must not stop the others
            log.warning("simulator %s: saved state not loaded (%s)", name, error)
            continue
        if live is None or type(live) is not type(saved):
            continue
        live.__dict__.update(saved.__dict__)
        restored.append(name)
    with sim.clock._lock:
        sim.clock._elapsed = snapshot["elapsed"]
    return sorted(restored)


@contextmanager
def persisted(app: FastAPI, data_dir: Path) -> Iterator[list[str]]:
    """Restore the simulators' saved world into `app` for the block, and save it when the block ends
    (also on errors and Ctrl-C: what the simulators did is what the pipeline saw). Yields the systems restored."""
    from .app import get_simulator

    sim, path = get_simulator(app), state_path(data_dir)
    restored = load_state(sim, path)
    try:
        yield restored
    finally:
        save_state(sim, path)
