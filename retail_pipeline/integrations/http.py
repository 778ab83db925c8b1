"""Polite HTTP fetching for supplier sites and images: one implementation for every scraper.

What "polite" means here: a real User-Agent, robots.txt obeyed (including Crawl-delay), a cap on
concurrent requests and on requests per second per host, conditional GETs (ETag/Last-Modified),
and retries with backoff on timeouts, 429 and 5xx that honour Retry-After. Anything that is not
worth retrying (404, 403, robots refusal) raises `FetchError` with a reason at once, so the caller
can record it against the one product and carry on.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from aiolimiter import AsyncLimiter
from protego import Protego
from pydantic import BaseModel, Field

from retail_pipeline.integrations.retrying import Transient, exponential_backoff, retry_transient

DEFAULT_USER_AGENT = (
    "retail-pipeline/0.1 (+https://github.com/retail-pipeline/retail_pipeline; catalogue sync)"
)
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context per process for every client: reading the CA bundle costs ~20 ms, once per
    client otherwise (SSL_CERT_FILE / SSL_CERT_DIR are honoured, as httpx does)."""
    return httpx.create_ssl_context()


class FetchPolicy(BaseModel):
    """How hard we may hit one site. Per supplier in `suppliers.config["fetch"]`, defaults here."""

    user_agent: str = DEFAULT_USER_AGENT
    max_concurrency: int = Field(default=8, ge=1)
    requests_per_second: float = Field(default=20.0, gt=0)
    timeout_seconds: float = Field(default=15.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    backoff_initial_seconds: float = Field(default=0.5, ge=0)  # doubles per attempt, plus as much jitter
    backoff_max_seconds: float = Field(default=10.0, ge=0)
    max_retry_after_seconds: float = Field(
        default=60.0, ge=0
    )  # a longer Retry-After is a failure, not a wait
    obey_robots: bool = True
    obey_crawl_delay: bool = True


class FetchError(Exception):
    """A fetch that will not succeed by retrying now; `reason` is what gets recorded."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    content: bytes
    headers: httpx.Headers
    not_modified: bool = False

    @property
    def text(self) -> str:
        return self.content.decode(_charset(self.headers), errors="replace")

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


def _charset(headers: httpx.Headers) -> str:
    content_type = headers.get("content-type", "")
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip('"')
    return "utf-8"


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After as seconds, from either of its two forms (delta-seconds or an HTTP date)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class _Host:
    limiter: AsyncLimiter
    robots: Protego | None = None
    robots_loaded: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class PoliteClient:
    """An async fetcher bound to one policy. Use as `async with PoliteClient(policy) as client`.

    `transport` lets tests and the benchmark run against the in-process simulators.
    """

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        site_root: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        """`site_root` is the site's base URL when it is not a whole origin (e.g. the simulators
        mount each site under a path): its robots.txt and pacing then apply to that prefix."""
        self.policy = policy or FetchPolicy()
        self.site_root = site_root.rstrip("/") if site_root else None
        self._client = httpx.AsyncClient(
            headers={"User-Agent": self.policy.user_agent},
            timeout=self.policy.timeout_seconds,
            follow_redirects=True,
            transport=transport,
            verify=tls_context(),
            limits=httpx.Limits(max_connections=self.policy.max_concurrency * 2),
        )
        self._slots = asyncio.Semaphore(self.policy.max_concurrency)
        self._hosts: dict[str, _Host] = {}
        self.requests_made = 0  # every HTTP request sent, retries and robots.txt included

    async def __aenter__(self) -> PoliteClient:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str | None = None,
    ) -> Fetched:
        """GET with politeness and retries. A 304 answer comes back as `not_modified=True`."""
        host = await self._host_for(url)
        if host.robots is not None and not host.robots.can_fetch(url, self.policy.user_agent):
            raise FetchError(url, "disallowed by robots.txt")
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept
        policy = self.policy
        try:
            response = await retry_transient(
                lambda _after_ambiguous: self._send(host, url, headers),
                max_attempts=policy.max_attempts,
                backoff=exponential_backoff(policy.backoff_initial_seconds, policy.backoff_max_seconds),
            )
        except Transient as error:
            # Chained to what went wrong (e.g. the httpx.TransportError): callers tell outages by it.
            reason = f"{error.reason} after {error.attempts} attempts"
            raise FetchError(url, reason, error.status) from error.__cause__ or error
        if response.status_code == 304:
            return Fetched(url, 304, b"", response.headers, not_modified=True)
        if response.status_code >= 400:
            raise FetchError(url, f"HTTP {response.status_code}", response.status_code)
        return Fetched(str(response.url), response.status_code, response.content, response.headers)

    async def _send(self, host: _Host, url: str, headers: dict[str, str]) -> httpx.Response:
        """One attempt; `Transient` for what another may fix (GETs: never ambiguous)."""
        async with self._slots, host.limiter:
            self.requests_made += 1
            try:
                response = await self._client.get(url, headers=headers)
            except httpx.TransportError as error:
                raise Transient(type(error).__name__, ambiguous=False) from error
        status = response.status_code
        if status in RETRYABLE_STATUS:
            wait = retry_after_seconds(response)
            if wait is not None and wait > self.policy.max_retry_after_seconds:
                raise FetchError(url, f"HTTP {status}, Retry-After {wait:.0f}s is too long", status)
            raise Transient(f"HTTP {status}", ambiguous=False, status=status, wait=wait)
        return response

    def _site_of(self, url: str) -> str:
        if self.site_root and (url == self.site_root or url.startswith(self.site_root + "/")):
            return self.site_root
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    async def _host_for(self, url: str) -> _Host:
        site = self._site_of(url)
        host = self._hosts.get(site)
        if host is None:
            host = self._hosts[site] = _Host(AsyncLimiter(1, 1 / self.policy.requests_per_second))
        if self.policy.obey_robots and not host.robots_loaded:
            async with host.lock:
                if not host.robots_loaded:
                    await self._load_robots(host, f"{site}/robots.txt")
        return host

    async def _load_robots(self, host: _Host, robots_url: str) -> None:
        # No robots.txt, or one we cannot read, means no restrictions (RFC 9309 §2.3.1.3 for 4xx).
        try:
            self.requests_made += 1
            response = await self._client.get(robots_url)
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code == 200:
            host.robots = Protego.parse(response.text)
            delay = host.robots.crawl_delay(self.policy.user_agent)
            if self.policy.obey_crawl_delay and delay:
                # Never faster than the site asks, whatever our own policy allows.
                rate = min(self.policy.requests_per_second, 1 / float(delay))
                host.limiter = AsyncLimiter(1, 1 / rate)
        host.robots_loaded = True
