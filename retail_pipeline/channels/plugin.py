"""What a sales channel plug-in declares: what it can do, and the pieces that do it.

Each channel is one module, `retail_pipeline/channels/<name>.py`, whose `CHANNEL` is a `Channel`; the
registry (`channels/registry.py`) lists them. Everything else (partitions, resources, schedules,
sensors, run-once, the sidecar) asks the registry which channels can do what, and never names one.
No Dagster and no FastAPI here: a channel is plain Python over its HTTP client.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from retail_pipeline.domain.buyer_messages import Inbox
from retail_pipeline.domain.listings import ListingPolicy
from retail_pipeline.domain.order_sources import Window
from retail_pipeline.domain.orders import ChannelOrder
from retail_pipeline.domain.shipping import TRACKING_URLS

# (client, window) → the orders the channel lists for the window, normalised, paging handled; it may
# list more (its filters are coarser), and the caller keeps those placed in the window.
OrderFetch = Callable[[Any, Window], AsyncIterator[ChannelOrder]]
# (client, order, lines, shipment, carrier) → the channel's ids for the tracking it now holds.
TrackingPush = Callable[[Any, Any, list, Any, "ChannelCarrier"], Awaitable[dict[str, Any]]]
# The same ids if the channel already has this shipment's tracking (after an uncertain attempt), else None.
TrackingFind = Callable[[Any, Any, list, Any], Awaitable[dict[str, Any] | None]]


CAPABILITIES = ("listings", "stock", "orders", "acceptance", "tracking", "buyer_messages", "order_webhooks")


class UnknownCarrier(ValueError):
    """The channel has no name for this carrier."""


@dataclass(frozen=True)
class ChannelCarrier:
    name: str  # as the channel's carrier field takes it
    code: str | None  # the channel's registered carrier code (None: sent unregistered, name + url)
    url: str | None


@dataclass(frozen=True)
class OrderWebhook:
    """Orders the channel pushes to us (`POST /webhooks/<channel>`): how a delivery is verified and
    recognised, and how its body becomes an order. `secret()` raises `ChannelError` when unset."""

    secret: Callable[[], str]
    verify: Callable[[bytes, str | None, str], bool]  # (raw body, signature header, secret)
    signature_header: str
    signature_scheme: str  # how the signature is made, for the refusal message
    topic_header: str
    id_header: str
    topic_prefix: str  # the topics that carry an order
    to_order: Callable[[Mapping[str, Any]], ChannelOrder]
    max_bytes: int = 1024 * 1024  # an order with hundreds of lines is well under this
    id_field: str = "id"  # a body without it is not an order


@dataclass(frozen=True)
class OrderAcceptance:
    """Orders that wait for our decision, line by line, which the channel applies asynchronously."""

    read_state: Callable[[Any, str], Awaitable[str | None]]  # (client, order id) → its state; None: no order
    send: Callable[[Any, str, dict[str, bool]], Awaitable[bool]]  # → False: a decision was already in
    waiting_state: str  # the state of an order still waiting for a decision
    decided: Mapping[str, str]  # a state once a decision is applied → our order status


@dataclass(frozen=True)
class CategoryQuery:
    """What a channel's taxonomy is asked about one product."""

    title: str
    brand: str | None = None
    category: str | None = None  # our own (enrichment's) category
    gtin: str | None = None
    mpn: str | None = None
    keywords: tuple[str, ...] = ()
    description: str = ""  # a short excerpt


@dataclass(frozen=True)
class CategorySuggestion:
    category_id: (
        str  # as the channel's listing call takes it (a numeric id, a category number, a product type…)
    )
    path: str  # the names from the top, "Electronics > Audio > Headphones"
    confidence: float  # 0..1: the channel's own score where it gives one, else how well the path matches


@dataclass(frozen=True)
class CategoryAttributes:
    """What a listing in one category takes besides title, price and photos."""

    category_id: str
    # A JSON Schema object: one property per attribute (type, enum of allowed values, description);
    # `required` names those the channel refuses a listing without. Used as the LLM's structured-output
    # schema, so keep it to plain types (string, number, integer, boolean, arrays of them).
    schema: dict[str, Any]


@dataclass(frozen=True)
class Taxonomy:
    """The channel's own categories: suggestions for a product, and each category's attributes. The
    `channel_categories` asset asks these and stores the choice; a draft then carries it (see
    `ProductForListing.channel_category`)."""

    suggest: Callable[
        [Any, CategoryQuery], Awaitable[list[CategorySuggestion]]
    ]  # (client, query), best first
    attributes: Callable[[Any, str], Awaitable[CategoryAttributes]] | None = None  # None: no attributes


@dataclass(frozen=True)
class SignIn:
    """A channel a person signs into for us (a website behind bot protection): `retail-pipeline
    <command> login [--headed]` runs `run(headed)`, which saves the session and returns where, and
    then resolves the open ops task of `task_kind` for the channel (`ChannelBlocked` opened it)."""

    command: str
    run: Callable[[bool], Awaitable[Any]]
    task_kind: str


@dataclass(frozen=True)
class Channel:
    """One sales channel. A piece left as None is a capability the channel does not have."""

    name: str  # partition key and retail.channel value
    title: str  # as people write it
    client: str  # "module:Class", imported on first use so loading definitions stays cheap
    listing: ListingPolicy | None = None  # we list products there and keep their stock
    orders: OrderFetch | None = None  # we read its orders
    acceptance: OrderAcceptance | None = None  # its orders wait for our acceptance
    push_tracking: TrackingPush | None = None
    find_tracking: TrackingFind | None = None  # absent: a repeated push is harmless
    inbox: Callable[[Any], Inbox] | None = None  # buyers' messages: an adapter over the client
    order_webhook: OrderWebhook | None = None
    taxonomy: Taxonomy | None = None  # its categories (None: it takes our own category as free text)
    carrier_names: Mapping[str, str] = field(default_factory=dict)  # our carrier → the channel's name
    carrier_codes: Mapping[str, str] = field(default_factory=dict)  # our carrier → its registered code
    # A Dagster pool the channel's listing work holds a slot of besides its step's own (a browser-driven
    # channel: "browser", one browser at a time); None: the step's pool is enough.
    pool: str | None = None
    sign_in: SignIn | None = None  # a person's sign-in, from the command line

    @property
    def capabilities(self) -> frozenset[str]:
        present = {
            "listings": self.listing is not None,
            "stock": self.listing is not None,
            "orders": self.orders is not None,
            "acceptance": self.acceptance is not None,
            "tracking": self.push_tracking is not None,
            "buyer_messages": self.inbox is not None,
            "order_webhooks": self.order_webhook is not None,
        }
        return frozenset(name for name, yes in present.items() if yes)

    def client_class(self) -> type:
        module_name, class_name = self.client.split(":")
        return getattr(importlib.import_module(module_name), class_name)

    def new_client(self, **kwargs: Any) -> Any:
        return self.client_class()(**kwargs)

    def new_inbox(self, **client_kwargs: Any) -> Inbox:
        """The buyer inbox over a new client (its own settings from the environment unless given): how
        Dagster's ChannelsResource and the sidecar both reach a channel's buyers."""
        if self.inbox is None:
            raise ValueError(f"channel {self.name!r} has no buyer inbox")
        return self.inbox(self.new_client(**client_kwargs))

    def carrier(self, carrier: str, pin: str) -> ChannelCarrier:
        """How this channel names our `carrier`, with the tracking link for `pin`."""
        name = self.carrier_names.get(carrier)
        if name is None:
            raise UnknownCarrier(f"no {self.name} name for carrier {carrier!r}")
        return ChannelCarrier(name=name, code=self.carrier_codes.get(carrier), url=tracking_url(carrier, pin))


def tracking_url(carrier: str, pin: str) -> str | None:
    template = TRACKING_URLS.get(carrier)
    return template.format(pin=pin) if template else None
