"""Fault injection per system: latency, 5xx, 429 with Retry-After, hangs and truncated bodies."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import FaultConfig, SimulatorConfig
from .journal import FAULT_SCOPE_KEY

FaultKind = Literal["timeout", "rate_limit", "error", "malformed"]
_ERROR_STATUSES = (500, 502, 503)
_REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True)
class FaultPlan:
    delay_seconds: float
    kind: FaultKind | None
    error_status: int
    config: FaultConfig  # the settings it was drawn under, even if they change mid-request


class FaultInjector:
    """One system's fault settings and the seeded generator that decides each request's fate."""

    def __init__(self, system: str, config: FaultConfig, seed: int):
        self.system, self._seed = system, seed
        self._lock = threading.Lock()
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        """New settings restart the generator, so a test that sets faults sees a known sequence."""
        with self._lock:
            self.config = config
            self._rng = random.Random(f"{self._seed}:faults:{self.system}")

    def plan(self) -> FaultPlan:
        with self._lock:
            config = self.config
            # Always four draws per request, so one setting never shifts another's sequence.
            gate, jitter, outcome, pick = (self._rng.random() for _ in range(4))
        delay_ms = 0.0
        if gate < config.latency_rate:
            delay_ms = max(0.0, config.latency_ms + (2 * jitter - 1) * config.latency_jitter_ms)
        # One draw against stacked thresholds keeps each rate exact (while their sum stays <= 1).
        kind: FaultKind | None = None
        threshold = 0.0
        for candidate, rate in (
            ("timeout", config.timeout_rate),
            ("rate_limit", config.rate_limit_rate),
            ("error", config.error_rate),
            ("malformed", config.malformed_rate),
        ):
            threshold += rate
            if outcome < threshold:
                kind = candidate
                break
        return FaultPlan(delay_ms / 1000, kind, _ERROR_STATUSES[int(pick * len(_ERROR_STATUSES))], config)


class FaultRegistry:
    """The live fault settings of every system, starting from (and resettable to) the config."""

    def __init__(self, config: SimulatorConfig, systems: Iterable[str]):
        self._config = config
        self._injectors = {
            name: FaultInjector(name, config.faults_for(name), config.seed) for name in systems
        }

    def __contains__(self, system: str) -> bool:
        return system in self._injectors

    def injector(self, system: str) -> FaultInjector:
        return self._injectors[system]

    def get(self, system: str) -> FaultConfig:
        return self._injectors[system].config

    def set(self, system: str, config: FaultConfig) -> None:
        self._injectors[system].configure(config)

    def all(self) -> dict[str, FaultConfig]:
        return {name: injector.config for name, injector in self._injectors.items()}

    def reset(self) -> None:
        for name, injector in self._injectors.items():
            injector.configure(self._config.faults_for(name))


class FaultMiddleware:
    def __init__(self, app: ASGIApp, injector: FaultInjector):
        self.app, self.injector = app, injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        plan = self.injector.plan()
        if plan.delay_seconds:
            scope[FAULT_SCOPE_KEY] = "latency"
            await asyncio.sleep(plan.delay_seconds)
        if plan.kind is None:
            await self.app(scope, receive, send)
            return
        if plan.kind != "malformed":
            scope[FAULT_SCOPE_KEY] = plan.kind
        config = plan.config
        if plan.kind == "timeout":
            await self._hang(receive, send, config.hang_seconds)
        elif plan.kind == "rate_limit":
            await _send_error(send, 429, [(b"retry-after", str(config.retry_after_seconds).encode())])
        elif plan.kind == "error":
            await _send_error(send, plan.error_status)
        else:
            await self.app(scope, receive, _truncating(send, scope))

    @staticmethod
    async def _hang(receive: Receive, send: Send, seconds: float) -> None:
        """Say nothing until the client gives up (then answer no one) or `seconds` pass (then 504,
        as a proxy in front of a stuck server would)."""

        async def client_gone() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        try:
            await asyncio.wait_for(client_gone(), timeout=seconds)
        except TimeoutError:
            await _send_error(send, 504)


def _truncating(send: Send, scope: Scope) -> Send:
    """A `send` that delivers a 200 response with its body cut in half (as a dropped connection
    behind a buffering proxy does); other responses pass unchanged."""
    start: Message = {}
    body = bytearray()

    async def send_truncated(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        body.extend(message.get("body", b""))
        if message.get("more_body"):
            return
        payload = bytes(body)
        if start["status"] == 200 and payload:
            payload = payload[: len(payload) // 2]
            scope[FAULT_SCOPE_KEY] = "malformed"
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    return send_truncated


async def _send_error(
    send: Send, status: int, extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    reason = f"{status} {_REASONS[status]}"
    body = f"<html><head><title>{reason}</title></head><body><h1>{reason}</h1></body></html>\n".encode()
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra_headers or [])})
    await send({"type": "http.response.body", "body": body})
