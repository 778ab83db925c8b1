"""Commands started as a background shell job starts them, and nothing of them left behind.

`cmd &` in a script starts `cmd` with SIGINT ignored; `background_command` does the same (in a session
of its own, so signals reach only what the test sent them to) and, on the way out, also when an
assertion failed, kills every process of the command's tree, including children that lead process
groups of their own (the demo's).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence

import httpx
import psutil

from retail_pipeline.settings import PROJECT_ROOT


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def alive(processes: Sequence[psutil.Process]) -> list[psutil.Process]:
    """The processes still running (a zombie has exited: only its exit status is left to collect)."""
    running = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
    return running


def kill_tree(proc: subprocess.Popen, extra: Sequence[psutil.Process] = ()) -> None:
    """SIGKILL the command, its descendants (those alive now and `extra` seen earlier) and their groups."""
    tree = [*descendants(proc.pid), *extra]
    groups = {proc.pid}
    for process in tree:
        with contextlib.suppress(ProcessLookupError):
            groups.add(os.getpgid(process.pid))
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    for process in alive(tree):
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)


@contextlib.contextmanager
def background_command(argv: Sequence[str], *, env: dict[str, str], **popen) -> Iterator[subprocess.Popen]:
    # As a shell does: an ignored signal stays ignored across exec, a handled one is reset to default.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc = subprocess.Popen(list(argv), cwd=PROJECT_ROOT, env=env, start_new_session=True, **popen)
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        yield proc
    finally:
        kill_tree(proc)


def wait_until_answering(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited with {proc.returncode} before answering at {url}"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing answered at {url} within {timeout:.0f}s")


def free_port() -> int:
    """A loopback port nothing listens on now, for a process a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
