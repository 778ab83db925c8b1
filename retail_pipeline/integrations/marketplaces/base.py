"""One interface for every sales channel's client (each channel's own `client.py` implements it).

The listing assets speak only this interface; each channel module turns it into that channel's real
wire format. Adding a channel is a new module implementing `ChannelClient` plus one registry line.

Crash safety rests on `find_by_sku`: our SKU is the idempotency key (every channel
stores it with the listing: a reference id, an inventory SKU, a variant SKU). The caller commits its intent before `create`,
and after a crash asks `find_by_sku` before ever calling `create` again.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Literal, TypeVar

from retail_pipeline.integrations.budgets import CallBudget
from retail_pipeline.integrations.retrying import Backoff, Transient, retry_transient

T = TypeVar("T")

RemoteState = Literal["live", "ended", "sold", "withdrawn"]
Priority = Literal["withdraw", "price", "create", "sync", "photo"]


# Why a photo has no URL a channel can fetch (media/links.py photo_url_signer gives none), and the fix.
NO_PUBLIC_URL = "no public URL to fetch it from (set MEDIA_PUBLIC_BASE_URL or use S3 media storage)"


@dataclass(frozen=True)
class Photo:
    """A stored image: `path` is its key in the media storage (``media/storage.py``), and its sha256 keys
    the upload cache so each photo is uploaded to a channel once and reused."""

    path: str
    sha256: str
    content_type: str
    public_url: str | None = None  # a URL channels that fetch images themselves can reach (links.py)


@dataclass(frozen=True)
class ListingDraft:
    """What we want listed, already priced and mapped (`fields` holds the channel-specific mapping:
    categories, durations, shipping options, aspects, tags, make/model...)."""

    sku: str
    title: str
    description: str
    price: Decimal
    currency: str
    quantity: int
    condition: str  # new | used | refurbished
    photos: tuple[Photo, ...] = ()
    brand: str | None = None
    gtin: str | None = None
    mpn: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RemoteListing:
    """A listing as the channel reports it."""

    external_id: str
    sku: str | None
    price: Decimal | None
    quantity: int | None
    state: RemoteState
    title: str | None = None
    url: str | None = None
    remote_ids: dict[str, Any] = field(default_factory=dict)  # offer id, variant id, slug...
    # The channel's own complaints about the listing, code and message each (a marketplace that checks
    # a listing after accepting it reports them later, and takes the listing off sale for them).
    problems: tuple[str, ...] = ()
    # What the channel shows of the item, where its selling list gives it: adopting a listing we did
    # not make (matching it to a product, or importing it as one) reads these.
    gtin: str | None = None
    brand: str | None = None
    mpn: str | None = None
    description: str | None = None
    currency: str | None = None
    condition: str | None = None  # new | used | refurbished, as far as the channel says
    photos: tuple[str, ...] = ()  # photo URLs, in the channel's order


@dataclass(frozen=True)
class BulkChange:
    """One listing's new price and/or quantity in a bulk pass (None: unchanged)."""

    listing: RemoteListing
    price: Decimal | None = None
    quantity: int | None = None


@dataclass(frozen=True)
class BulkResult:
    """What the channel did with one SKU of a bulk pass; `message` carries its own words when refused."""

    sku: str
    ok: bool
    message: str | None = None
    retryable: bool = False
    details: Any = None


class ChannelError(Exception):
    """A failed channel call. `retryable` = worth trying again later (429, 5xx, timeouts); otherwise a
    business or validation error a person must look at (it becomes `human_required`)."""

    def __init__(
        self,
        channel: str,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        details: Any = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{channel}: {message}")
        self.request_id = request_id  # the channel's id of the failed request, where it gives one
        self.channel = channel
        self.message = message
        self.status = status
        self.retryable = retryable
        self.details = details


class ChannelBlocked(ChannelError):
    """The channel refuses automated work until a person acts (a bot-protection challenge, a sign-in
    only a person can do). Never retried: the channel's whole pass stops where it is (nothing marked
    failed) and one ops task of `task_kind` per channel asks for `action`."""

    def __init__(
        self, channel: str, message: str, *, task_kind: str, action: str, details: Any = None
    ) -> None:
        super().__init__(channel, message, retryable=False, details=details)
        self.task_kind = task_kind
        self.action = action


async def retried(
    channel: str,
    attempt: Callable[[bool], Awaitable[T]],
    *,
    max_attempts: int,
    backoff: Backoff,
    max_server_wait: float | None = None,
) -> T:
    """`attempt(after_ambiguous)` through the one retry loop (`integrations/retrying.py`); what is
    still transient when it gives up becomes a retryable `ChannelError` of `channel`."""
    try:
        return await retry_transient(
            attempt, max_attempts=max_attempts, backoff=backoff, max_server_wait=max_server_wait
        )
    except Transient as error:
        raise ChannelError(
            channel,
            f"{error.reason} (gave up after {error.attempts} attempts)",
            status=error.status,
            retryable=True,
        ) from error


class BudgetExhausted(ChannelError):
    """No calls left in this window: defer the remainder to the next run, do not fail."""

    def __init__(self, channel: str, budget: CallBudget) -> None:
        super().__init__(
            channel,
            f"call budget used up ({budget.used}/{budget.limit}) until {budget.resets_at}",
            retryable=True,
        )
        self.budget = budget


class ChannelClient(ABC):
    """Async client for one channel. Use as `async with client:`. Implementations count every HTTP
    call against `budget()` and raise `BudgetExhausted` before a call that would exceed it."""

    channel: ClassVar[str]

    async def __aenter__(self) -> ChannelClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @abstractmethod
    async def aclose(self) -> None: ...

    @abstractmethod
    def budget(self) -> CallBudget: ...

    @abstractmethod
    async def validate(self, draft: ListingDraft) -> list[str]:
        """Channel-side validation without listing (the channel's own validate call); [] = valid. Channels
        without such an endpoint check their documented rules locally."""

    @abstractmethod
    async def find_by_sku(self, sku: str) -> RemoteListing | None:
        """Our listing for this SKU on the channel, if one exists (the crash-recovery lookup)."""

    @abstractmethod
    async def create(self, draft: ListingDraft, *, photo_refs: dict[str, str] | None = None) -> RemoteListing:
        """Publish. `photo_refs` maps photo sha256 → the channel's id/URL for photos already uploaded."""

    @abstractmethod
    def create_requests(self, draft: ListingDraft, photo_refs: dict[str, str]) -> dict[str, Any]:
        """The exact create request(s) `create` would send ("METHOD path" → body), built without calling:
        what a dry run shows."""

    @abstractmethod
    async def upload_photo(self, photo: Photo) -> str:
        """Upload one photo; returns the channel's reference (a photo id, a hosted URL...)."""

    @abstractmethod
    async def update_price(self, listing: RemoteListing, price: Decimal) -> RemoteListing: ...

    @abstractmethod
    async def update_quantity(self, listing: RemoteListing, quantity: int) -> RemoteListing: ...

    @abstractmethod
    async def withdraw(self, listing: RemoteListing, reason: str) -> RemoteListing: ...

    async def apply_bulk(self, changes: list[BulkChange]) -> dict[str, BulkResult] | None:
        """Many price/quantity changes in one submission (a channel's bulk feed), each SKU's outcome
        read back; None: not done in bulk (the channel has no bulk path, or too few changes to pay
        for one), so the caller changes them one by one."""
        return None

    @abstractmethod
    def selling(self) -> AsyncIterator[RemoteListing]:
        """Every listing of ours the channel has (live and recently ended), paging handled, with what
        the channel's list calls show of each item (`selling_lacks` names what they never show)."""

    # RemoteListing fields `selling()` leaves empty: the channel's list calls do not carry them (some
    # of them `describe` reads, one call per listing); the rest the channel keeps nowhere.
    selling_lacks: ClassVar[frozenset[str]] = frozenset()
    # Of `selling_lacks`, those `describe` fills.
    described: ClassVar[frozenset[str]] = frozenset()

    async def describe(self, listing: RemoteListing) -> RemoteListing:
        """`listing` with what only the channel's per-listing call shows (`described`); as it is where
        the list calls already show everything (no call made)."""
        return listing
