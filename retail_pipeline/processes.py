"""Long-running commands stop when told, wherever they were started.

A shell script that starts a job in the background (`cmd &`) starts it with SIGINT ignored; Python then
installs no KeyboardInterrupt handler, and Dagster maps SIGTERM onto whatever SIGINT has, so such a
process would ignore both. So every command (`demo`, `api`, `simulate` above all) installs its own
handling for both signals, and the demo stops its children by process group: terminate, then kill
after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def stop_on_signals() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt in the main thread, once: the cleanup that follows is
    not interrupted by a second Ctrl-C (it is bounded by its own timeouts).

    A handler (unlike SIG_IGN) is reset to the default by exec, so children start with both signals
    at their defaults whatever this process inherited."""
    stopping = False

    def _stop(signum: int, _frame) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop)


def group_alive(pgid: int) -> bool:
    """True while any live (not zombie) process of the group exists."""
    for proc in psutil.process_iter(["status"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):  # gone meanwhile
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(proc.pid) == pgid:
                return True
    return False


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


class Children:
    """Child processes, each leading its own process group, so a stop reaches their children too."""

    def __init__(self, cwd: Path | None = None) -> None:
        self.cwd = cwd
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: Sequence[str]) -> subprocess.Popen:
        proc = subprocess.Popen(list(argv), cwd=self.cwd, start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def stop(self, grace: float = 20) -> None:
        """SIGTERM to every group (latest started first), wait up to `grace` seconds for each group to
        empty, then SIGKILL what is left. Group members that outlive their leader are waited for too.
        Further stop signals are ignored meanwhile: the stop is under way, and bounded."""
        in_main_thread = threading.current_thread() is threading.main_thread()
        previous = (
            {signum: signal.signal(signum, signal.SIG_IGN) for signum in STOP_SIGNALS}
            if in_main_thread
            else {}
        )
        try:
            self._stop(grace)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _stop(self, grace: float) -> None:
        for _, proc in reversed(self.procs):
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, proc in reversed(self.procs):
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            while group_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if proc.poll() is None or group_alive(proc.pid):
                print(f"{name} did not stop in {grace:.0f}s; killing it", file=sys.stderr)
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
                # A killed member takes a moment to die: return only once none is left running.
                killed_by = time.monotonic() + 5
                while group_alive(proc.pid) and time.monotonic() < killed_by:
                    time.sleep(0.02)
