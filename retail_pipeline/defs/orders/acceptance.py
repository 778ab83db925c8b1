"""`order_acceptance`: the orders of channels with an acceptance step accepted or refused line by line,
then polled until the channel has applied the decision (seed 004).

Orders from channels without an acceptance step start as `accepted` in the order sync; this asset
works the orders of the channels whose plug-in declares `acceptance` (`OrderAcceptance`: read the
order's state, send the decisions) whose latest status is `pending_acceptance` (or
`acceptance_failed`: retried every run until the channel answers). Per order:

1. Decide, in one transaction, with the products locked: a line is accepted when the product is ours,
   still sold by its supplier and has the units (earlier lines of the order counted); otherwise it is
   refused with the reason. Accepted units leave our stock at once (`sell_line`: at zero every other
   channel's listing is withdrawn). The decisions are committed as an 'intent' activity row, so a
   killed run neither decides twice nor sells twice; the next run sends what was decided.
2. Send the decisions while the channel still shows the order waiting, once ('order.accept.sent'
   activity row; after a crash before that row, the channel says a decision is already in), then poll
   the order with bounded exponential backoff until it stops waiting.
3. Append `accepted`, `refused` (every line refused), `cancelled` (as the plug-in maps the state), or
   `acceptance_failed` with an ops task once the polls run out (the inbox shows it; the next run
   polls again and resolves the task when the order moves on).

Settings (ACCEPTANCE_* variables): ACCEPTANCE_POLL_ATTEMPTS (default 6), ACCEPTANCE_POLL_INITIAL_SECONDS
(0.5), ACCEPTANCE_POLL_MAX_SECONDS (8).
"""

# No `from __future__ import annotations`: Dagster inspects the context annotations at runtime.

import asyncio
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Connection, Engine, text

from retail_pipeline.channels.registry import channel as channel_plugin
from retail_pipeline.channels.registry import channel_names
from retail_pipeline.db.activity import log_activity
from retail_pipeline.db.locks import one_at_a_time
from retail_pipeline.db.order_workflow import (
    LOCK_ORDER,
    append_status,
    each_order,
    open_order_task,
    resolve_order_task,
)
from retail_pipeline.defs.orders.assets import marketplace_orders
from retail_pipeline.defs.orders.stock import push_stock, summarise
from retail_pipeline.defs.orders.upsert import UpsertResult, sell_line
from retail_pipeline.defs.resources import ChannelsResource, DatabaseResource
from retail_pipeline.integrations.marketplaces.base import ChannelError

SOURCE = "order_acceptance"
PREVIEW = 5


class AcceptanceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACCEPTANCE_", env_file=".env", extra="ignore")

    poll_attempts: int = Field(default=6, ge=1)
    poll_initial_seconds: float = Field(default=0.5, ge=0)
    poll_max_seconds: float = Field(default=8.0, ge=0)

    def delays(self) -> list[float]:
        return [
            min(self.poll_initial_seconds * 2**n, self.poll_max_seconds) for n in range(self.poll_attempts)
        ]


WORK = text(
    """
    SELECT id, channel, external_order_id, current_status
      FROM retail.orders
     WHERE channel = ANY(CAST(:channels AS retail.channel[]))
       AND current_status IN ('pending_acceptance', 'acceptance_failed')
     ORDER BY id
    """
)
INTENT_KEY = "accept:{channel}:{external_order_id}"
DECISIONS = text(
    """
    SELECT details FROM retail.activity_log
     WHERE action = 'order.accept' AND outcome = 'intent' AND idempotency_key = :key
     ORDER BY id LIMIT 1
    """
)
SENT = text(
    """
    SELECT EXISTS (SELECT 1 FROM retail.activity_log
                    WHERE action = 'order.accept.sent' AND idempotency_key = :key)
    """
)
LINES = text(
    """
    SELECT l.id, l.external_line_id, l.sku, l.quantity, l.status, l.channel_listing_id
      FROM retail.order_lines l WHERE l.order_id = :id ORDER BY l.id FOR UPDATE
    """
)
# Our product for a line's SKU, locked, with the units we can still sell (unknown counts as one,
# as the sale itself counts it).
PRODUCT = text(
    """
    SELECT p.id, coalesce(p.stock_quantity, sp.stock_quantity, 1) AS units, sp.removed_at IS NOT NULL AS removed
      FROM retail.products p JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
     WHERE p.sku = :sku
       FOR UPDATE OF p
    """
)
SET_LINE = text(
    "UPDATE retail.order_lines SET status = :status, refusal_reason = :reason, updated_at = now() WHERE id = :id"
)
COUNTS = (
    "orders_found", "decided", "lines_accepted", "lines_refused", "sent", "accepted", "refused",
    "cancelled", "acceptance_failed", "retry_later",
)  # fmt: skip


@dataclass
class Decision:
    accept: dict[str, bool]  # external line id → accepted
    reasons: dict[str, str]  # external line id → why refused


def decide_line(units: int | None, wanted: int, removed: bool) -> str | None:
    """Why a line cannot be accepted (None: it can). `units` None: not one of our products."""
    if units is None:
        return "not one of our products"
    if removed:
        return "no longer sold by the supplier"
    if units < wanted:
        return f"out of stock ({units} left, {wanted} ordered)"
    return None


@dataclass
class AcceptanceResult:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    sold: UpsertResult = field(default_factory=UpsertResult)
    outcomes: list[dict[str, Any]] = field(default_factory=list)


class Acceptor:
    """One pass over the orders waiting for acceptance. `after_send` is a test hook called after the decisions are sent
    and before the poll (raise there to simulate a crash)."""

    def __init__(
        self,
        engine: Engine,
        channels: ChannelsResource,
        *,
        settings: AcceptanceSettings | None = None,
        run_id: str | None = None,
        after_send=None,
        concurrency: int = 4,
    ):
        self.engine, self.channels = engine, channels
        self.settings = settings or AcceptanceSettings()
        self.run_id, self.after_send = run_id, after_send
        self.actor = f"run:{run_id}" if run_id else "system"
        self.result = AcceptanceResult()
        self.concurrency = concurrency

    def _log(
        self, conn: Connection, order, outcome: str, details: dict[str, Any], action: str = "order.accept"
    ) -> None:
        log_activity(conn, actor=self.actor, action=action, outcome=outcome, channel=order.channel,
                     entity_type="order", entity_id=order.id, details=details, run_id=self.run_id,
                     key=INTENT_KEY.format(channel=order.channel, external_order_id=order.external_order_id))  # fmt: skip

    def decide(self, order) -> Decision:
        """The order's decisions: the committed ones, else made now (stock taken) and committed."""
        key = INTENT_KEY.format(channel=order.channel, external_order_id=order.external_order_id)
        with self.engine.begin() as conn:
            conn.execute(LOCK_ORDER, {"id": order.id})  # one decider per order
            stored = conn.execute(DECISIONS, {"key": key}).scalar()
            if stored is not None:
                return Decision(stored["accept"], stored.get("reasons", {}))
            decision = Decision({}, {})
            taken: dict[int, int] = {}  # product id → units this order already took
            for line in conn.execute(LINES, {"id": order.id}).all():
                product = conn.execute(PRODUCT, {"sku": line.sku}).first() if line.sku else None
                units = None if product is None else product.units - taken.get(product.id, 0)
                reason = decide_line(units, line.quantity, bool(product and product.removed))
                decision.accept[line.external_line_id] = reason is None
                if reason is None:
                    taken[product.id] = taken.get(product.id, 0) + line.quantity
                    conn.execute(SET_LINE, {"status": "accepted", "reason": None, "id": line.id})
                    sell_line(conn, order, line, line.channel_listing_id, self.result.sold, self.run_id)
                    self.result.counts["lines_accepted"] += 1
                else:
                    decision.reasons[line.external_line_id] = reason
                    conn.execute(SET_LINE, {"status": "refused", "reason": reason, "id": line.id})
                    self.result.counts["lines_refused"] += 1
            self._log(conn, order, "intent", {"accept": decision.accept, "reasons": decision.reasons})
        self.result.counts["decided"] += 1
        return decision

    async def _poll(self, steps, client, order) -> str | None:
        state = None
        for delay in self.settings.delays():
            await asyncio.sleep(delay)
            state = await steps.read_state(client, order.external_order_id)
            if state is None or state != steps.waiting_state:
                return state
        return state

    async def one(self, client, order, decision: Decision) -> None:
        plugin = channel_plugin(order.channel)
        steps = plugin.acceptance
        state = await steps.read_state(client, order.external_order_id)
        if state is None:
            self._failed(order, f"{plugin.title} has no such order", decision)
            return
        if state == steps.waiting_state:
            key = INTENT_KEY.format(channel=order.channel, external_order_id=order.external_order_id)
            with self.engine.connect() as conn:
                sent = conn.scalar(SENT, {"key": key})
            if not sent:  # sent before: the channel is still applying it, so only poll again
                if await steps.send(client, order.external_order_id, decision.accept):
                    self.result.counts["sent"] += 1
                with self.engine.begin() as conn:
                    self._log(
                        conn, order, "succeeded", {"accept": decision.accept}, action="order.accept.sent"
                    )
            if self.after_send is not None:
                self.after_send(order.id)
            state = await self._poll(steps, client, order)
        status = steps.decided.get(state or "")
        if status is None:
            self._failed(order, f"still {state} after {self.settings.poll_attempts} polls", decision)
            return
        with self.engine.begin() as conn:
            if append_status(conn, order.id, status, source=SOURCE, run_id=self.run_id,
                             reason=f"{plugin.title} reports {state}",
                             details={"remote_state": state, "accepted": decision.accept,
                                      "refused": decision.reasons}):  # fmt: skip
                self.result.counts[status] += 1
            self._log(conn, order, "succeeded", {"remote_state": state})
            resolve_order_task(conn, "acceptance_failed", order.id, SOURCE)
        self.result.outcomes.append(
            {"order": order.external_order_id, "status": status, "remote_state": state}
        )

    def _failed(self, order, why: str, decision: Decision) -> None:
        with self.engine.begin() as conn:
            if append_status(conn, order.id, "acceptance_failed", source=SOURCE, run_id=self.run_id,
                             reason=why, details={"accepted": decision.accept}):  # fmt: skip
                self.result.counts["acceptance_failed"] += 1
            open_order_task(conn, "acceptance_failed", order.id, order.channel,
                            f"{channel_plugin(order.channel).title} order {order.external_order_id} not accepted: {why}",
                            {"why": why, "decisions": decision.accept, "reasons": decision.reasons}, self.run_id)  # fmt: skip
        self.result.outcomes.append(
            {"order": order.external_order_id, "status": "acceptance_failed", "why": why}
        )

    async def run(self, channels: tuple[str, ...]) -> AcceptanceResult:
        if not channels:
            return self.result
        with self.engine.connect() as conn:
            orders = conn.execute(WORK, {"channels": list(channels)}).all()
        self.result.counts["orders_found"] = len(orders)
        clients: dict[str, Any] = {}
        decided = []
        for order in orders:  # one at a time: each decision sees the stock the previous one left
            decided.append((order, self.decide(order)))

        async def send_and_poll(item) -> None:
            order, decision = item
            client = clients.get(order.channel) or clients.setdefault(
                order.channel, self.channels.client(order.channel)
            )
            try:
                await self.one(client, order, decision)
            except ChannelError as error:
                if error.status in (401, 403):
                    raise  # systemic: every order would fail the same way
                if error.retryable:
                    self.result.counts["retry_later"] += 1
                else:
                    self._failed(order, error.message, decision)

        # The decisions are committed: sending them and waiting for the channel to apply them are
        # independent per order, so the polls overlap instead of adding up.
        await each_order(decided, send_and_poll, concurrency=self.concurrency, clients=clients.values())
        return self.result


def run_acceptance(engine: Engine, channels: ChannelsResource, **kwargs: Any) -> AcceptanceResult:
    with one_at_a_time(engine, "fulfilment:order_acceptance"):  # overlapping runs wait, then find it done
        return asyncio.run(Acceptor(engine, channels, **kwargs).run(channel_names("acceptance")))


@dg.asset(deps=[marketplace_orders], group_name="orders", kinds={"postgres"}, pool="channel_order_apis")
def order_acceptance(
    context: dg.AssetExecutionContext,
    db: DatabaseResource,
    channels: ChannelsResource,
) -> dg.MaterializeResult:
    """Accepts or refuses each line of every order waiting for our acceptance (stock checked and taken in
    one transaction, decisions committed before they are sent), polls the channel until the decision is applied, and
    records accepted / refused / acceptance_failed (with an ops task). Re-running sends nothing twice."""
    result = run_acceptance(db.engine, channels, run_id=context.run_id)
    metadata: dict[str, Any] = dict(result.counts)
    metadata["stock_decrements"] = result.sold.counts["stock_decrements"]
    if result.sold.sold_products:  # accepted units may have sold a product out elsewhere: push now
        metadata.update(
            {
                f"stock_{k}": v
                for k, v in summarise(
                    push_stock(db.engine, channels, run_id=context.run_id, context=context)
                ).items()
            }
        )
    metadata["outcomes_preview"] = dg.MetadataValue.json(result.outcomes[:PREVIEW])
    return dg.MaterializeResult(metadata=metadata)
