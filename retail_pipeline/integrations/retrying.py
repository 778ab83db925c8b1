"""The one retry loop for API clients that must know whether a failed call may have acted remotely.

A client's single attempt raises `Transient` for what another attempt may fix (timeouts, 429, 5xx, a
body cut short) and says whether the remote side may already have acted (`ambiguous`). The loop
backs off (exponential with jitter, never shorter than the server's Retry-After) and tells the next
attempt `after_ambiguous`, so a create can look its result up before posting again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, stop_never

T = TypeVar("T")


class Transient(Exception):
    """Worth another attempt. `ambiguous`: the remote side may have acted on the request already;
    `wait`: seconds the server asked for (Retry-After, a throttle's block)."""

    def __init__(self, reason: str, *, ambiguous: bool, status: int | None = None, wait: float | None = None):
        super().__init__(reason)
        self.reason, self.ambiguous, self.status, self.wait = reason, ambiguous, status, wait


async def retry_transient(
    attempt: Callable[[bool], Awaitable[T]],
    *,
    max_attempts: int,
    backoff: Callable[[RetryCallState], float],
    max_server_wait: float | None = None,
) -> T:
    """Runs `attempt(after_ambiguous)` until it returns or raises something other than `Transient`.
    When attempts run out, or the server asks to wait longer than `max_server_wait`, the last
    `Transient` is raised for the caller to turn into its own error."""

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        server_wait = error.wait if isinstance(error, Transient) and error.wait is not None else 0.0
        return max(backoff(state), server_wait)

    def waits_too_long(state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome else None
        return (
            max_server_wait is not None
            and isinstance(error, Transient)
            and (error.wait or 0.0) > max_server_wait
        )

    after_ambiguous = False
    async for retry in AsyncRetrying(
        stop=stop_after_attempt(max_attempts)
        | (waits_too_long if max_server_wait is not None else stop_never),
        wait=wait,
        retry=retry_if_exception_type(Transient),
        reraise=True,
    ):
        with retry:
            try:
                return await attempt(after_ambiguous)
            except Transient as error:
                after_ambiguous = after_ambiguous or error.ambiguous
                raise
    raise AssertionError("unreachable: AsyncRetrying either returns or re-raises")
