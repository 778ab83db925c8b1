"""`channel_listings` [channel]: publish, reprice and withdraw, crash-safely and within the call budget.

Per row of `retail.channel_listings` (one per channel+sku; the sku is the idempotency key):
1. Intent: the row exists (actual_state 'pending') and is committed before any call.
2. Photos are uploaded once: an item's missing photos go up at once, and their references are
   committed into `remote_ids.photos` by sha256 (with the intent mark below, or alone if one failed).
   A crash during the uploads can at worst upload those few photos again (an unused duplicate).
3. Before `create`, `remote_ids.create_attempted` and an 'intent' activity row are committed. A row
   that already carries the mark is looked up with `find_by_sku` first: a crash between the remote
   create and our commit is reconciled by asking the channel, never by creating again.
4. The result (external id, actual price/state) and an activity row are committed after the call.

Local writes run in worker threads, so one item's commit does not hold up the other items' calls.
Work is spent in priority order (withdrawals, price changes, new listings). `BudgetExhausted` defers
the rest (rows stay as they are, counted in metadata); a non-retryable `ChannelError` marks the row
failed with its reason (and an ops task); neither fails the partition. `ChannelBlocked` (the channel
wants a person, e.g. a bot-protection challenge) stops the pass like an exhausted budget, leaving every
row as it is, and opens one ops task for the channel.
"""

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, text

from retail_pipeline.db.activity import log_activity
from retail_pipeline.db.ops_tasks import open_task
from retail_pipeline.defs.listings.blocked import error_details, open_blocked_task
from retail_pipeline.integrations.marketplaces.base import (
    BudgetExhausted,
    BulkChange,
    ChannelBlocked,
    ChannelClient,
    ChannelError,
    ListingDraft,
    Photo,
    RemoteListing,
)

# Wish list from the drafts and the supplier's state; committed before any call.
SYNC_INTENT = text(
    """
    INSERT INTO retail.channel_listings AS cl
           (channel, sku, product_id, draft_id, currency, desired_price, desired_quantity, desired_state)
    SELECT d.channel, d.sku, d.product_id, d.id, d.currency, d.price, d.quantity, 'live'
      FROM retail.listing_drafts d
      JOIN retail.products p ON p.id = d.product_id
      JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
     WHERE d.channel = :channel AND d.status = 'valid' AND sp.removed_at IS NULL AND d.quantity > 0
       AND p.selling_stopped_at IS NULL  -- an operator stopped selling it: never listed or relisted
       AND retail.sells_on(p.id, d.channel)  -- channel selection (012)
       AND (CAST(:draft_ids AS bigint[]) IS NULL OR d.id = ANY(CAST(:draft_ids AS bigint[])))
    -- One listing per product and channel (013): a draft of a product whose listing was adopted updates
    -- that row (keeping the SKU the listing carries), never a second remote listing.
    ON CONFLICT (channel, product_id) DO UPDATE SET
        draft_id = EXCLUDED.draft_id, desired_price = EXCLUDED.desired_price,
        desired_quantity = EXCLUDED.desired_quantity, desired_state = 'live', withdraw_reason = NULL,
        actual_state = CASE WHEN cl.actual_state = 'failed' AND cl.draft_id IS DISTINCT FROM EXCLUDED.draft_id
                            THEN 'pending' ELSE cl.actual_state END
    WHERE (cl.draft_id, cl.desired_price, cl.desired_quantity, cl.desired_state)
          IS DISTINCT FROM (EXCLUDED.draft_id, EXCLUDED.desired_price, EXCLUDED.desired_quantity, 'live')
      -- A withdrawn listing stays withdrawn (nothing relists it), with its reason: an operator's
      -- withdrawal is not undone by the next pass.
      AND cl.actual_state <> 'withdrawn'
    """
)

MARK_WITHDRAWN = text(
    """
    UPDATE retail.channel_listings cl
       SET desired_state = 'withdrawn',
           withdraw_reason = CASE WHEN p.selling_stopped_at IS NOT NULL
                                  THEN coalesce(p.selling_stopped_reason, 'an operator stopped selling it')
                                  WHEN sp.removed_at IS NOT NULL THEN 'supplier removed the product'
                                  WHEN NOT retail.sells_on(p.id, cl.channel)
                                  THEN 'channel deselected for the product'
                                  ELSE 'out of stock at the supplier' END
      FROM retail.products p JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
     WHERE p.id = cl.product_id AND cl.channel = :channel AND cl.desired_state = 'live'
       AND (p.selling_stopped_at IS NOT NULL OR NOT retail.sells_on(p.id, cl.channel)
            OR sp.removed_at IS NOT NULL OR sp.availability IN ('out_of_stock', 'discontinued')
            OR coalesce(p.stock_quantity, sp.stock_quantity, 1) = 0)
    """
)

WORK = text(
    """
    SELECT cl.*, d.title, d.payload, d.quantity AS draft_quantity, d.price AS draft_price,
           d.pricing AS draft_pricing
      FROM retail.channel_listings cl
      LEFT JOIN retail.listing_drafts d ON d.id = cl.draft_id
     WHERE cl.channel = :channel
       AND (   (cl.desired_state = 'withdrawn' AND cl.actual_state = 'live')
            OR (cl.desired_state = 'live' AND cl.actual_state = 'live'
                AND (cl.desired_price IS DISTINCT FROM cl.actual_price
                     OR cl.desired_quantity IS DISTINCT FROM cl.actual_quantity))
            OR (cl.desired_state = 'live' AND cl.actual_state = 'pending'))
       AND (CAST(:listing_ids AS bigint[]) IS NULL OR cl.id = ANY(CAST(:listing_ids AS bigint[])))
       AND (CAST(:draft_ids AS bigint[]) IS NULL OR cl.draft_id = ANY(CAST(:draft_ids AS bigint[])))
     ORDER BY cl.id
    """
)

PRIORITY = {"withdraw": 0, "price": 1, "create": 2}
ACTIONS = {"withdraw": "withdraw", "price": "update_price", "create": "publish"}


@dataclass(frozen=True)
class Scope:
    """The part of a channel one pass works on; the default is all of it (the hourly asset). Operator
    commands narrow it: some drafts (publish), some listings (reprice, withdraw), some kinds of work,
    at most `limit` items."""

    draft_ids: tuple[int, ...] | None = None
    listing_ids: tuple[int, ...] | None = None
    kinds: frozenset[str] | None = None  # of "withdraw", "price", "create"
    limit: int | None = None

    @property
    def whole_channel(self) -> bool:
        return self.draft_ids is None and self.listing_ids is None

    def params(self) -> dict[str, list[int] | None]:
        return {
            "draft_ids": None if self.draft_ids is None else list(self.draft_ids),
            "listing_ids": None if self.listing_ids is None else list(self.listing_ids),
        }


WHOLE_CHANNEL = Scope()


@dataclass
class PublishResult:
    counts: dict[str, int] = field(
        default_factory=lambda: {
            "created": 0, "adopted": 0, "repriced": 0, "requantified": 0, "withdrawn": 0,
            "failed": 0, "retry_later": 0, "deferred": 0, "photos_uploaded": 0, "dry_run": 0, "blocked": 0,
        }
    )  # fmt: skip
    deferred: dict[str, int] = field(default_factory=dict)
    # One entry per item that failed: {listing_id, sku, action, message, retryable}
    errors: list[dict[str, Any]] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    budget: dict[str, Any] = field(default_factory=dict)


def _kind(row) -> str:
    if row.desired_state == "withdrawn":
        return "withdraw"
    if row.actual_state == "live":
        return "price"
    return "create"


def _listing_draft(row, media_base_url: str, sign: Callable[[str], str]) -> ListingDraft:
    payload = row.payload or {}
    photos = tuple(
        Photo(p["rel_path"], p["sha256"], p["content_type"], public_url=sign(p["rel_path"]))
        for p in payload.get("photos", [])
    )
    return ListingDraft(
        sku=row.sku,
        title=row.title,
        description=payload.get("description") or "",
        price=Decimal(row.desired_price),
        currency=row.currency.strip(),
        quantity=row.desired_quantity,
        condition=payload.get("condition") or "new",
        photos=photos,
        brand=payload.get("brand"),
        gtin=payload.get("gtin"),
        mpn=payload.get("mpn"),
        fields=payload.get("fields") or {},
    )


def _fx(row) -> dict[str, Any]:
    """The conversion behind the price being set: the draft's (rate, its date and source), when the price
    is the draft's; none for an operator's own price or a draft priced in the supplier's currency."""
    pricing = getattr(row, "draft_pricing", None) or {}
    from_draft = row.draft_price is not None and Decimal(row.desired_price) == Decimal(row.draft_price)
    if not from_draft or not pricing.get("fx_date"):
        return {"fx_rate": None, "fx_date": None, "fx_source": None}
    return {
        "fx_rate": pricing["fx_rate"],
        "fx_date": pricing["fx_date"],
        "fx_source": pricing.get("fx_source"),
    }


def _remote(row) -> RemoteListing:
    return RemoteListing(
        external_id=row.external_listing_id,
        sku=row.sku,
        price=Decimal(row.actual_price) if row.actual_price is not None else None,
        quantity=row.actual_quantity,
        state="live",
        url=row.listing_url,
        remote_ids=dict(row.remote_ids or {}),
    )


class Publisher:
    """One channel's publish/reprice/withdraw pass. `after_create` is a test hook called between the
    remote create and the local commit (raise there to simulate a crash)."""

    def __init__(
        self,
        engine: Engine,
        client: ChannelClient,
        *,
        media_url: Callable[[str], str],
        run_id: str | None = None,
        dry_run: bool = False,
        after_create: Callable[[str, RemoteListing], None] | None = None,
        concurrency: int = 1,
        scope: Scope = WHOLE_CHANNEL,
        command_id: int | None = None,
        open_ops_tasks: bool = True,
    ):
        """`command_id`: the operator command this pass carries out (actor, price history source);
        `open_ops_tasks=False` leaves failures to the caller's own ops task (a command reports them)."""
        self.engine, self.client, self.media_url = engine, client, media_url
        self.channel = client.channel
        self.run_id, self.dry_run, self.after_create = run_id, dry_run, after_create
        self.scope, self.command_id, self.open_ops_tasks = scope, command_id, open_ops_tasks
        if command_id is not None:
            self.actor = f"command:{command_id}"
        else:
            self.actor = f"run:{run_id}" if run_id else "system"
        self.concurrency = max(1, concurrency)
        self.result = PublishResult()
        self.blocked: ChannelBlocked | None = None

    # --- local writes (each its own short transaction)

    def _log(self, conn: Connection, action: str, outcome: str, row, details: dict[str, Any]) -> None:
        log_activity(
            conn, actor=self.actor, action=action, outcome=outcome, channel=self.channel,
            entity_type="channel_listing", entity_id=row.id, details=details, key=f"{self.channel}:{row.sku}",
            dry_run=self.dry_run, run_id=self.run_id,
        )  # fmt: skip

    def prepare(self) -> None:
        """Desired state from the drafts and the supplier. A listing-scoped pass (an operator's reprice
        or withdrawal) skips it: the command has already written the listing's desired values."""
        if self.scope.listing_ids is not None:
            return
        with self.engine.begin() as conn:
            conn.execute(
                SYNC_INTENT, {"channel": self.channel, "draft_ids": self.scope.params()["draft_ids"]}
            )
            if self.scope.whole_channel:
                conn.execute(MARK_WITHDRAWN, {"channel": self.channel})

    def _merge_remote_ids(self, conn: Connection, row_id: int, patch: dict[str, Any]) -> None:
        conn.execute(
            text(
                "UPDATE retail.channel_listings SET remote_ids = remote_ids || CAST(:p AS jsonb) WHERE id = :id"
            ),
            {"p": json.dumps(patch, default=str), "id": row_id},
        )

    def _commit_live(self, row, remote: RemoteListing, action: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    """
                    UPDATE retail.channel_listings
                       SET external_listing_id = :ext, actual_state = :state, actual_price = :price,
                           actual_quantity = :qty, listing_url = coalesce(:url, listing_url),
                           remote_ids = remote_ids || CAST(:ids AS jsonb), last_error = NULL,
                           published_at = coalesce(published_at, now()), last_synced_at = now()
                     WHERE id = :id
                    """
                ),
                {"ext": remote.external_id, "state": remote.state if remote.state != "sold" else "sold",
                 "price": remote.price if remote.price is not None else row.desired_price,
                 "qty": remote.quantity if remote.quantity is not None else row.desired_quantity,
                 "url": remote.url, "ids": json.dumps(remote.remote_ids, default=str), "id": row.id},
            )  # fmt: skip
            conn.execute(
                text(
                    """INSERT INTO retail.price_history (channel_listing_id, old_price, new_price, currency, source,
                                                        reason, fx_rate, fx_date, fx_source)
                       VALUES (:id, NULL, :price, :currency, 'publish', :reason, :fx_rate, :fx_date, :fx_source)"""
                ),
                {"id": row.id, "price": remote.price if remote.price is not None else row.desired_price,
                 "currency": row.currency, "reason": action, **_fx(row)},
            )  # fmt: skip
            self._log(
                conn, f"listing.{action}", "succeeded", row, {"external_listing_id": remote.external_id}
            )

    def _fail(self, row, action: str, error: ChannelError) -> None:
        with self.engine.begin() as conn:
            if error.retryable:
                conn.execute(
                    text("UPDATE retail.channel_listings SET last_error = :e WHERE id = :id"),
                    {"e": error.message[:2000], "id": row.id},
                )
            else:
                state = "failed" if row.actual_state in ("pending", "failed") else row.actual_state
                conn.execute(
                    text(
                        "UPDATE retail.channel_listings SET last_error = :e, actual_state = :s WHERE id = :id"
                    ),
                    {"e": error.message[:2000], "s": state, "id": row.id},
                )
                if self.open_ops_tasks:
                    open_task(
                        conn, kind="publish_failed", key=f"publish_failed:{self.channel}:{row.sku}:{action}",
                        title=f"{action} {row.sku} on {self.channel} failed: {error.message[:200]}",
                        details=error_details(error), channel=self.channel,
                        entity_type="channel_listing", entity_id=row.id, run_id=self.run_id,
                    )  # fmt: skip
            self._log(
                conn,
                f"listing.{action}",
                "failed",
                row,
                {"error": error.message, "retryable": error.retryable},
            )

    async def _off_loop(self, fn: Callable[..., Any], *args: Any) -> Any:
        """A local write, in a worker thread: the event loop keeps the other items' calls going while
        it commits (blocking the loop on every commit would serialise the whole pass)."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _tx(self, work: Callable[[Connection], Any]) -> Any:
        def transaction() -> Any:
            with self.engine.begin() as conn:
                return work(conn)

        return await self._off_loop(transaction)

    # --- the three kinds of work

    async def _upload_photos(self, draft: ListingDraft, refs: dict[str, str]) -> BaseException | None:
        """Upload the photos not yet in `refs` (at once, within the channel-wide photo slots) and add
        their references; returns the first failure. The caller commits `refs` whether or not one
        failed, so a photo that did upload is not uploaded again."""
        missing = list({p.sha256: p for p in draft.photos if p.sha256 not in refs}.values())

        async def upload(photo: Photo) -> str:
            async with self._photo_slots:
                return str(await self.client.upload_photo(photo))

        uploaded = await asyncio.gather(*map(upload, missing), return_exceptions=True)
        for photo, ref in zip(missing, uploaded, strict=True):
            if not isinstance(ref, BaseException):
                refs[photo.sha256] = ref
                self.result.counts["photos_uploaded"] += 1
        return next((u for u in uploaded if isinstance(u, BaseException)), None)

    async def _create(self, row) -> None:
        draft = _listing_draft(row, "", self.media_url)
        ids = dict(row.remote_ids or {})
        refs: dict[str, str] = dict(ids.get("photos") or {})
        if self.dry_run:
            self.result.payloads.append({"sku": row.sku, "action": "create",
                                         "request": self.client.create_requests(draft, refs)})  # fmt: skip
            await self._tx(lambda conn: self._log(conn, "listing.publish", "info", row, {"dry_run": True}))
            self.result.counts["dry_run"] += 1
            return
        if ids.get("create_attempted"):
            existing = await self.client.find_by_sku(row.sku)
            if existing is not None:  # the earlier attempt did create it: adopt, never create again
                await self._off_loop(self._commit_live, row, existing, "adopt")
                self.result.counts["adopted"] += 1
                return
        failure = await self._upload_photos(draft, refs)

        def intent(conn: Connection) -> None:  # photo references and intent, committed before the create
            patch: dict[str, Any] = {"photos": refs}
            if failure is None:
                patch["create_attempted"] = True
                self._log(conn, "listing.publish", "intent", row, {"price": row.desired_price})
            self._merge_remote_ids(conn, row.id, patch)

        await self._tx(intent)
        if failure is not None:
            raise failure
        remote = await self.client.create(draft, photo_refs=refs)
        if self.after_create is not None:
            self.after_create(row.sku, remote)
        await self._off_loop(self._commit_live, row, remote, "publish")
        self.result.counts["created"] += 1

    def _record_price(self, conn: Connection, row) -> None:
        conn.execute(
            text("UPDATE retail.channel_listings SET actual_price = :p, last_error = NULL WHERE id = :id"),
            {"p": row.desired_price, "id": row.id},
        )
        conn.execute(
            text(
                """INSERT INTO retail.price_history
                          (channel_listing_id, old_price, new_price, currency, source, reason, operator_command_id,
                           fx_rate, fx_date, fx_source)
                   VALUES (:id, :old, :new, :currency, :source, :reason, :command_id, :fx_rate, :fx_date, :fx_source)"""
            ),
            {
                "id": row.id,
                "old": row.actual_price,
                "new": row.desired_price,
                "currency": row.currency,
                "source": "operator" if self.command_id is not None else "reprice",
                "reason": "operator command"
                if self.command_id is not None
                else "desired price differs from live price",
                "command_id": self.command_id,
                **_fx(row),
            },
        )
        self._log(conn, "listing.update_price", "succeeded", row,
                  {"old": row.actual_price, "new": row.desired_price})  # fmt: skip

    def _record_quantity(self, conn: Connection, row) -> None:
        conn.execute(
            text("UPDATE retail.channel_listings SET actual_quantity = :q WHERE id = :id"),
            {"q": row.desired_quantity, "id": row.id},
        )
        self._log(conn, "listing.update_quantity", "succeeded", row, {"new": row.desired_quantity})

    async def _reprice(self, row) -> None:
        remote = _remote(row)
        if self.dry_run:
            self.result.payloads.append({"sku": row.sku, "action": "reprice", "price": str(row.desired_price),
                                         "quantity": row.desired_quantity})  # fmt: skip
            self.result.counts["dry_run"] += 1
            return
        if row.desired_price != row.actual_price:
            await self._tx(lambda conn: self._log(conn, "listing.update_price", "intent", row,
                                                  {"old": row.actual_price, "new": row.desired_price}))  # fmt: skip
            updated = await self.client.update_price(remote, Decimal(row.desired_price))
            await self._tx(lambda conn: self._record_price(conn, row))
            remote = updated
            self.result.counts["repriced"] += 1
        if row.desired_quantity != row.actual_quantity:
            await self._tx(
                lambda conn: self._log(
                    conn, "listing.update_quantity", "intent", row, {"new": row.desired_quantity}
                )
            )
            await self.client.update_quantity(remote, row.desired_quantity)
            await self._tx(lambda conn: self._record_quantity(conn, row))
            self.result.counts["requantified"] += 1

    async def _bulk(self, rows: list) -> set[int]:
        """Price and quantity changes in one bulk submission where the client offers one (its
        `apply_bulk`); the ids of the rows it settled (applied, or refused with the channel's reason).
        Intents are logged before the submission, as for one-by-one changes."""
        changes, by_sku = [], {}
        for row in rows:
            price = Decimal(row.desired_price) if row.desired_price != row.actual_price else None
            quantity = row.desired_quantity if row.desired_quantity != row.actual_quantity else None
            if price is None and quantity is None:
                continue
            changes.append(BulkChange(_remote(row), price=price, quantity=quantity))
            by_sku[row.sku] = row
        if len(changes) < 2:
            return set()
        if not getattr(type(self.client), "apply_bulk", None) or (
            type(self.client).apply_bulk is ChannelClient.apply_bulk
        ):
            return set()  # no bulk path: no intents to log

        def intents(conn: Connection) -> None:
            for change in changes:
                self._log(conn, "listing.update_price", "intent", by_sku[change.listing.sku],
                          {"bulk": True, "price": change.price, "quantity": change.quantity})  # fmt: skip

        await self._tx(intents)
        results = await self.client.apply_bulk(changes)
        if results is None:
            return set()

        def record(conn: Connection) -> None:
            for change in changes:
                row, outcome = by_sku[change.listing.sku], results.get(change.listing.sku)
                if outcome is None or not outcome.ok:
                    continue
                if change.price is not None:
                    self._record_price(conn, row)
                    self.result.counts["repriced"] += 1
                if change.quantity is not None:
                    self._record_quantity(conn, row)
                    self.result.counts["requantified"] += 1

        await self._tx(record)
        settled = set()
        for change in changes:
            row, outcome = by_sku[change.listing.sku], results.get(change.listing.sku)
            if outcome is None:
                continue  # not in the report: tried one by one below
            settled.add(row.id)
            if not outcome.ok:
                error = ChannelError(self.channel, outcome.message or "refused in bulk",
                                     retryable=outcome.retryable, details=outcome.details)  # fmt: skip
                self.result.errors.append({"listing_id": row.id, "sku": row.sku, "action": "update_price",
                                           "message": error.message, "retryable": error.retryable})  # fmt: skip
                self.result.counts["retry_later" if error.retryable else "failed"] += 1
                await self._off_loop(self._fail, row, "update_price", error)
        return settled

    def _record_withdrawn(self, conn: Connection, row, remote: RemoteListing) -> None:
        conn.execute(
            text(
                """UPDATE retail.channel_listings SET actual_state = :s, withdrawn_at = now(), last_error = NULL
                    WHERE id = :id"""
            ),
            {
                "s": "sold" if remote.state == "sold" else "withdrawn",
                "id": row.id,
            },  # some channels say 'ended'
        )
        self._log(conn, "listing.withdraw", "succeeded", row, {"reason": row.withdraw_reason})

    async def _withdraw(self, row) -> None:
        if self.dry_run:
            self.result.payloads.append({"sku": row.sku, "action": "withdraw", "reason": row.withdraw_reason})
            self.result.counts["dry_run"] += 1
            return
        await self._tx(
            lambda conn: self._log(conn, "listing.withdraw", "intent", row, {"reason": row.withdraw_reason})
        )
        remote = await self.client.withdraw(_remote(row), row.withdraw_reason or "withdrawn")
        await self._tx(lambda conn: self._record_withdrawn(conn, row, remote))
        self.result.counts["withdrawn"] += 1

    async def run(self) -> PublishResult:
        if not self.dry_run:
            self.prepare()
        with self.engine.connect() as conn:
            rows = list(conn.execute(WORK, {"channel": self.channel, **self.scope.params()}))
        if self.dry_run and self.scope.listing_ids is None:
            rows += self._would_create()  # no intent rows in a dry run: show what would be created
        if self.scope.kinds is not None:
            rows = [r for r in rows if _kind(r) in self.scope.kinds]
        rows.sort(key=lambda r: (PRIORITY[_kind(r)], r.id))
        if self.scope.limit is not None:
            rows = rows[: self.scope.limit]
        actions = {"withdraw": self._withdraw, "price": self._reprice, "create": self._create}
        exhausted = False
        # Bounded per channel: `concurrency` items in flight, and as many photo uploads beside them.
        semaphore = asyncio.Semaphore(self.concurrency)
        self._photo_slots = asyncio.Semaphore(self.concurrency)

        def defer(row) -> None:
            kind = _kind(row)
            self.result.deferred[kind] = self.result.deferred.get(kind, 0) + 1
            self.result.counts["deferred"] += 1

        async def one(row) -> None:
            nonlocal exhausted
            async with semaphore:
                if exhausted:
                    defer(row)
                    return
                kind = _kind(row)
                try:
                    await actions[kind](row)
                except BudgetExhausted:
                    exhausted = True  # the rest waits for the next window: recorded, not failed
                    defer(row)
                except ChannelBlocked as error:  # a person must act first: the rest waits, nothing failed
                    exhausted = True
                    self.blocked = error
                    defer(row)
                except ChannelError as error:
                    self.result.errors.append({"listing_id": row.id, "sku": row.sku, "action": ACTIONS[kind],
                                               "message": error.message, "retryable": error.retryable})  # fmt: skip
                    self.result.counts["retry_later" if error.retryable else "failed"] += 1
                    await self._off_loop(self._fail, row, ACTIONS[kind], error)

        # Priority order between kinds (withdrawals, then prices, then new listings); within a kind,
        # up to `concurrency` items at a time.
        # A systemic error (anything but a ChannelError) cancels the siblings and fails the run.
        with ThreadPoolExecutor(
            self.concurrency + 1, thread_name_prefix=f"publish-{self.channel}"
        ) as executor:
            self._executor = executor
            for kind in sorted(PRIORITY, key=PRIORITY.get):
                settled: set[int] = set()
                if kind == "price" and not self.dry_run:
                    try:
                        settled = await self._bulk([row for row in rows if _kind(row) == kind])
                    except BudgetExhausted:
                        exhausted = True
                    except ChannelError as error:  # the bulk path failed as a whole: one by one instead
                        self.result.errors.append({"action": "bulk", "message": error.message,
                                                   "retryable": error.retryable})  # fmt: skip
                try:
                    async with asyncio.TaskGroup() as group:
                        for row in rows:
                            if _kind(row) == kind and row.id not in settled:
                                group.create_task(one(row))
                except BaseExceptionGroup as errors:
                    raise errors.exceptions[0] from None
        if self.blocked is not None:
            self.result.counts["blocked"] = 1
            with self.engine.begin() as conn:  # the work is over: no other commit to hold up
                open_blocked_task(conn, self.blocked, self.run_id)
        budget = self.client.budget()
        self.result.budget = {"limit": budget.limit, "used": budget.used, "remaining": budget.remaining}
        return self.result

    def _would_create(self) -> list:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    text(
                        """
                        SELECT -d.id AS id, d.channel, d.sku, d.product_id, d.id AS draft_id, NULL AS external_listing_id,
                               '{}'::jsonb AS remote_ids, NULL AS listing_url, d.currency, d.price AS desired_price,
                               NULL::numeric AS actual_price, d.quantity AS desired_quantity, NULL::int AS actual_quantity,
                               'live' AS desired_state, 'pending' AS actual_state, NULL AS withdraw_reason,
                               d.title, d.payload, d.quantity AS draft_quantity, d.price AS draft_price
                          FROM retail.listing_drafts d
                         WHERE d.channel = :channel AND d.status = 'valid'
                           AND retail.sells_on(d.product_id, d.channel)
                           AND (CAST(:draft_ids AS bigint[]) IS NULL OR d.id = ANY(CAST(:draft_ids AS bigint[])))
                           AND NOT EXISTS (SELECT 1 FROM retail.channel_listings cl
                                            WHERE cl.channel = d.channel AND cl.sku = d.sku)
                        """
                    ),
                    {"channel": self.channel, "draft_ids": self.scope.params()["draft_ids"]},
                )
            )


async def publish(engine: Engine, client: ChannelClient, **kwargs: Any) -> PublishResult:
    async with client:
        return await Publisher(engine, client, **kwargs).run()


def run_publish(engine: Engine, client: ChannelClient, **kwargs: Any) -> PublishResult:
    return asyncio.run(publish(engine, client, **kwargs))
