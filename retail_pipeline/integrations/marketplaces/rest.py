"""HTTP plumbing the JSON channel clients share.

One `httpx.AsyncClient` per client; every attempt is counted; `integrations.retrying` retries 429, 5xx, timeouts,
dropped connections and bodies cut short, waiting the longer of an exponential backoff (with jitter)
and the server's Retry-After (a Retry-After longer than `max_retry_after` ends the retries: a later
run picks the work up). Other 4xx raise `ChannelError(retryable=False)` at once, the body as `details`.

A retry after a failure that may have reached the channel (a 5xx, a read timeout, a body cut short)
is *ambiguous*: the call may have taken effect. `retrying(attempt)` tells the attempt so, and
attempts that create things look first, so a retry never lists the same SKU twice.

Photos: both channels fetch images from URLs themselves, so a photo's "upload" is its public URL.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from retail_pipeline.integrations.http import retry_after_seconds, tls_context
from retail_pipeline.integrations.retrying import Transient, exponential_backoff

from .base import NO_PUBLIC_URL, ChannelError, ListingDraft, Photo, retried

T = TypeVar("T")
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_initial: float = 0.5  # doubles per attempt, plus as much jitter
    backoff_max: float = 10.0
    max_retry_after: float = 60.0


@dataclass(frozen=True)
class Reply:
    status: int
    data: Any  # the parsed JSON body; None when empty
    headers: httpx.Headers


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value))  # some channels send fractions: "2.0"
    except ValueError:
        return retry_after_seconds(response)  # the HTTP-date form


class ChannelHTTP:
    def __init__(
        self,
        channel: str,
        *,
        headers: dict[str, str],
        describe: Callable[[Any], str],
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        before_send: Callable[[], Awaitable[None]] | None = None,
        on_response: Callable[[httpx.Response], None] | None = None,
        request_id_header: str | None = None,
        auth: httpx.Auth | None = None,
        retry_after: Callable[[httpx.Response], float | None] | None = None,
    ):
        """`describe` turns the channel's error body into one line; `before_send` may wait (pacing),
        `on_response` sees every response (rate-limit headers); `request_id_header` names the header
        carrying the channel's id of a request, kept on every error (its support desk asks for it);
        `auth` signs each request as sent (per attempt, over its final URL and body); `retry_after`
        reads how long a refused (429/5xx) response asks to wait, for a channel that says it otherwise
        than with Retry-After (default: Retry-After)."""
        self.channel = channel
        self.request_id_header = request_id_header
        self.policy = policy or RetryPolicy()
        self.calls = 0  # HTTP requests sent, retries included
        self._describe, self._before_send, self._on_response = describe, before_send, on_response
        self._retry_after = retry_after or _retry_after
        self._client = httpx.AsyncClient(
            headers=headers, transport=transport, timeout=timeout, verify=tls_context(), auth=auth
        )
        self._backoff = exponential_backoff(self.policy.backoff_initial, self.policy.backoff_max)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call(self, method: str, url: str, **kwargs: Any) -> Reply:
        """A request that is safe to repeat (reads, PUTs, setting stock), with retries."""
        return await self.retrying(lambda _ambiguous: self.send(method, url, **kwargs))

    async def retrying(self, attempt: Callable[[bool], Awaitable[T]]) -> T:
        """Runs `attempt(after_ambiguous)` until it succeeds, fails for good, or attempts run out."""
        return await retried(
            self.channel,
            attempt,
            max_attempts=self.policy.max_attempts,
            backoff=self._backoff,
            max_server_wait=self.policy.max_retry_after,
        )

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        json_body: Any = None,
        files: Any = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> Reply:
        """One attempt: a Reply for 2xx, `Transient` for what a retry may fix, else ChannelError.
        `files`: multipart parts, as httpx takes them (inbox replies with attachments); `headers`: this
        request's own besides the client's (a token that changes); `content`: a raw body."""
        if self._before_send:
            await self._before_send()
        self.calls += 1
        try:
            response = await self._client.request(
                method, url, params=params, json=json_body, files=files, headers=headers, content=content
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise Transient(f"{type(error).__name__}: {error}", ambiguous=False) from error
        except httpx.TransportError as error:  # sent, then the answer never came whole
            raise Transient(f"{type(error).__name__}: {error}", ambiguous=True) from error
        if self._on_response:
            self._on_response(response)
        status = response.status_code
        request_id = response.headers.get(self.request_id_header) if self.request_id_header else None
        said = f" ({self.request_id_header} {request_id})" if request_id else ""
        if status in RETRYABLE_STATUS:
            raise Transient(
                f"HTTP {status}{said}",
                ambiguous=status != 429,
                status=status,
                wait=self._retry_after(response),
            )
        try:
            data = response.json() if response.content else None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise Transient(
                f"HTTP {status} with an unreadable body", ambiguous=True, status=status
            ) from error
        if status >= 400:
            raise ChannelError(
                self.channel,
                f"HTTP {status}: {self._describe(data)}{said}",
                status=status,
                retryable=False,
                details=data,
                request_id=request_id,
            )
        return Reply(status, data, response.headers)


def photo_url(channel: str, photo: Photo, photo_refs: dict[str, str] | None = None) -> str:
    """The URL the channel fetches a photo from: an earlier upload's reference, else its public URL."""
    url = (photo_refs or {}).get(photo.sha256) or photo.public_url
    if not url:
        raise ChannelError(channel, f"photo {photo.sha256[:12]} has {NO_PUBLIC_URL}")
    return url


def photo_problems(draft: ListingDraft) -> list[str]:
    return [f"photo {p.sha256[:12]} has {NO_PUBLIC_URL}" for p in draft.photos if not p.public_url]
