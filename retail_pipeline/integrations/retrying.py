"""The one retry loop every API client uses (marketplaces, carriers, the LLM, supplier sites).

A client's single attempt raises `Transient` for what another attempt may fix (timeouts, 429, 5xx, a
body cut short) and says whether the remote side may already have acted (`ambiguous`). The loop
backs off (exponential with jitter, never shorter than the server's Retry-After) and tells the next
attempt `after_ambiguous`, so a create can look its result up before posting again. Anything else an
attempt raises (a business refusal, a 4xx, an exhausted call budget) ends the loop at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_never,
    wait_exponential_jitter,
)

T = TypeVar("T")
Backoff = Callable[[RetryCallState], float]


class Transient(Exception):
    """Worth another attempt. `ambiguous`: the remote side may have acted on the request already;
    `wait`: seconds the server asked for (Retry-After, a throttle's block); `at_once`: retry without
    waiting, since time does not help (a model's unusable answer)."""

    at_once: bool = False
    attempts: int = 1  # the attempt it ended, once a retry loop gives up on it

    def __init__(self, reason: str, *, ambiguous: bool, status: int | None = None, wait: float | None = None):
        super().__init__(reason)
        self.reason, self.ambiguous, self.status, self.wait = reason, ambiguous, status, wait


def exponential_backoff(initial: float, maximum: float) -> Backoff:
    """Doubling from `initial` up to `maximum`, plus up to `initial` of jitter."""
    return wait_exponential_jitter(initial=initial, max=maximum, jitter=initial)


def _policy(max_attempts: int, backoff: Backoff, max_server_wait: float | None) -> dict[str, Any]:
    """tenacity's settings for both loops: stop, wait and what to retry."""

    def last_transient(state: RetryCallState) -> Transient | None:
        error = state.outcome.exception() if state.outcome else None
        return error if isinstance(error, Transient) else None

    def wait(state: RetryCallState) -> float:
        error = last_transient(state)
        if error is not None and error.at_once:
            return 0.0
        return max(backoff(state), (error.wait if error and error.wait is not None else 0.0))

    def waits_too_long(state: RetryCallState) -> bool:
        error = last_transient(state)
        return max_server_wait is not None and error is not None and (error.wait or 0.0) > max_server_wait

    return {
        "stop": stop_after_attempt(max_attempts)
        | (waits_too_long if max_server_wait is not None else stop_never),
        "wait": wait,
        "retry": retry_if_exception_type(Transient),
        "reraise": True,
    }


async def retry_transient(
    attempt: Callable[[bool], Awaitable[T]],
    *,
    max_attempts: int,
    backoff: Backoff,
    max_server_wait: float | None = None,
) -> T:
    """Runs `attempt(after_ambiguous)` until it returns or raises something other than `Transient`.
    When attempts run out, or the server asks to wait longer than `max_server_wait`, the last
    `Transient` is raised for the caller to turn into its own error."""
    after_ambiguous = False
    async for retry in AsyncRetrying(**_policy(max_attempts, backoff, max_server_wait)):
        with retry:
            try:
                return await attempt(after_ambiguous)
            except Transient as error:
                after_ambiguous = after_ambiguous or error.ambiguous
                error.attempts = retry.retry_state.attempt_number
                raise
    raise AssertionError("unreachable: AsyncRetrying either returns or re-raises")


def retry_transient_blocking(
    attempt: Callable[[bool], T],
    *,
    max_attempts: int,
    backoff: Backoff,
    max_server_wait: float | None = None,
) -> T:
    """`retry_transient` for synchronous clients (the LLM client runs in worker threads)."""
    after_ambiguous = False
    for retry in Retrying(**_policy(max_attempts, backoff, max_server_wait)):
        with retry:
            try:
                return attempt(after_ambiguous)
            except Transient as error:
                after_ambiguous = after_ambiguous or error.ambiguous
                error.attempts = retry.retry_state.attempt_number
                raise
    raise AssertionError("unreachable: Retrying either returns or re-raises")
