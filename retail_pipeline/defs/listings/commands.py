"""Operator commands (seed 000): PUBLISH_LISTING, UPDATE_PRICE, WITHDRAW_LISTING, BULK_PUBLISH.

`POST /ops/commands` (or the Launchpad) stores a row in `retail.operator_commands` (status queued);
`operator_commands_sensor` turns each queued row into exactly one `operator_command` run (run_key
`command:<id>`), and the run carries it out with the channel_listings asset's own `Publisher`, narrowed
by a `Scope`: one implementation of publish / reprice / withdraw, whoever asks.

queued → running → succeeded | failed | human_required. A non-retryable channel refusal is
human_required (with its reason and an ops task 'command_human_required'); a retryable error or a
spent call budget is failed (the run fails too; re-launching the run retries the command).
"""

# No `from __future__ import annotations`: Dagster inspects the op's config annotation at definition time.

import asyncio
import json
from decimal import Decimal
from typing import Annotated, Any, Literal

import dagster as dg
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Connection, Engine, text

from retail_pipeline.channels.registry import channel_names
from retail_pipeline.db.activity import log_activity
from retail_pipeline.db.ops_tasks import open_task
from retail_pipeline.defs.listings.publish import Publisher, PublishResult, Scope
from retail_pipeline.defs.queue_sensor import queued_rows_sensor
from retail_pipeline.defs.resources import ChannelsResource, DatabaseResource
from retail_pipeline.media.links import photo_url_signer

BULK_MAX = 1000
BULK_CONCURRENCY = 8


# --- what a command is (validated before anything is stored)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PublishListing(_Strict):
    draft_id: int = Field(gt=0, description="retail.listing_drafts id; the draft's channel is used")


class UpdatePrice(_Strict):
    listing_id: int = Field(gt=0, description="retail.channel_listings id")
    price: Decimal = Field(gt=0, max_digits=12, decimal_places=2, description="in the listing's currency")

    @field_validator("price")
    @classmethod
    def _cents(cls, price: Decimal) -> Decimal:
        return price.quantize(Decimal("0.01"))  # 199.5 and 199.50 are one price (and one idempotent command)


class WithdrawListing(_Strict):
    listing_id: int = Field(gt=0, description="retail.channel_listings id")
    reason: str = Field(min_length=1, max_length=255)


class BulkPublish(_Strict):
    channel: str = Field(description="a channel we list on")
    draft_ids: list[int] | None = Field(
        default=None, min_length=1, max_length=BULK_MAX, description="omit: every valid draft"
    )
    limit: int | None = Field(default=None, ge=1, le=BULK_MAX, description="at most this many new listings")

    @field_validator("channel")
    @classmethod
    def _listing_channel(cls, value: str) -> str:
        if value not in channel_names("listings"):
            raise ValueError(f"not a channel we list on: {value!r}; one of {list(channel_names('listings'))}")
        return value


class _Command(_Strict):
    dry_run: bool = Field(default=False, description="build the requests, call nothing")
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="a repeat with the same key returns the same command",
    )


class PublishListingCommand(_Command):
    command_type: Literal["PUBLISH_LISTING"]
    payload: PublishListing


class UpdatePriceCommand(_Command):
    command_type: Literal["UPDATE_PRICE"]
    payload: UpdatePrice


class WithdrawListingCommand(_Command):
    command_type: Literal["WITHDRAW_LISTING"]
    payload: WithdrawListing


class BulkPublishCommand(_Command):
    command_type: Literal["BULK_PUBLISH"]
    payload: BulkPublish


CommandRequest = Annotated[
    PublishListingCommand | UpdatePriceCommand | WithdrawListingCommand | BulkPublishCommand,
    Field(discriminator="command_type"),
]
PAYLOADS: dict[str, type[BaseModel]] = {
    "PUBLISH_LISTING": PublishListing,
    "UPDATE_PRICE": UpdatePrice,
    "WITHDRAW_LISTING": WithdrawListing,
    "BULK_PUBLISH": BulkPublish,
}


class CommandRejected(Exception):
    """The command cannot be carried out as asked (HTTP 400 at submission; human_required later)."""


class IdempotencyConflict(Exception):
    """The idempotency key already names a different command (HTTP 409)."""


def _draft(conn: Connection, draft_id: int):
    draft = conn.execute(
        text(
            """SELECT d.id, d.channel, d.sku, d.status, d.validation_errors, p.selling_stopped_at
                 FROM retail.listing_drafts d JOIN retail.products p ON p.id = d.product_id
                WHERE d.id = :id"""
        ),
        {"id": draft_id},
    ).one_or_none()
    if draft is None:
        raise CommandRejected(f"draft {draft_id} does not exist")
    if draft.selling_stopped_at is not None:
        raise CommandRejected(f"draft {draft_id} ({draft.sku}): an operator stopped selling this product")
    if draft.status != "valid":
        problems = "; ".join(draft.validation_errors or []) or draft.status
        raise CommandRejected(f"draft {draft_id} ({draft.sku} on {draft.channel}) is not valid: {problems}")
    return draft


def _live_listing(conn: Connection, listing_id: int, what: str, *, lock: bool = False):
    listing = conn.execute(
        text("SELECT * FROM retail.channel_listings WHERE id = :id" + (" FOR UPDATE" if lock else "")),
        {"id": listing_id},
    ).one_or_none()
    if listing is None:
        raise CommandRejected(f"listing {listing_id} does not exist")
    if listing.actual_state != "live":
        raise CommandRejected(
            f"listing {listing_id} ({listing.sku} on {listing.channel}) is {listing.actual_state}, "
            f"not live: there is nothing to {what}"
        )
    return listing


def check(conn: Connection, command_type: str, payload: BaseModel) -> str:
    """The command's channel, or `CommandRejected` saying why it cannot run."""
    if isinstance(payload, PublishListing):
        return _draft(conn, payload.draft_id).channel
    if isinstance(payload, UpdatePrice):
        return _live_listing(conn, payload.listing_id, "reprice").channel
    if isinstance(payload, WithdrawListing):
        return _live_listing(conn, payload.listing_id, "withdraw").channel
    assert isinstance(payload, BulkPublish), command_type
    if payload.draft_ids:
        found = conn.execute(
            text("SELECT id, channel, status FROM retail.listing_drafts WHERE id = ANY(:ids)"),
            {"ids": payload.draft_ids},
        ).all()
        known = {d.id: d for d in found}
        if missing := sorted(set(payload.draft_ids) - set(known)):
            raise CommandRejected(f"drafts {missing} do not exist")
        if other := sorted(i for i, d in known.items() if d.channel != payload.channel):
            raise CommandRejected(f"drafts {other} are not {payload.channel} drafts")
    return payload.channel


def _command_row(conn: Connection, where: str, params: dict[str, Any]):
    return conn.execute(text(f"SELECT * FROM retail.operator_commands WHERE {where}"), params).one_or_none()


def submit(engine: Engine, command: BaseModel, requested_by: str) -> tuple[Any, bool]:
    """Store a queued command; (row, created). With an idempotency key already used for the same
    command, the stored row comes back (created False); for a different one, `IdempotencyConflict`."""
    payload = command.payload.model_dump(mode="json", exclude_none=True)
    key = command.idempotency_key
    with engine.begin() as conn:
        if (
            key is not None
            and (existing := _command_row(conn, "idempotency_key = :k", {"k": key})) is not None
        ):
            return _same_or_conflict(existing, command, payload), False
        channel = check(conn, command.command_type, command.payload)
        row = conn.execute(
            text(
                """
                INSERT INTO retail.operator_commands
                       (command_type, channel, payload, dry_run, idempotency_key, requested_by)
                VALUES (:type, :channel, CAST(:payload AS jsonb), :dry_run, :key, :by)
                ON CONFLICT (idempotency_key) DO NOTHING
                RETURNING *
                """
            ),
            {"type": command.command_type, "channel": channel, "payload": json.dumps(payload),
             "dry_run": command.dry_run, "key": key, "by": requested_by},
        ).one_or_none()  # fmt: skip
        if row is None:  # the same key committed by a concurrent request meanwhile
            existing = _command_row(conn, "idempotency_key = :k", {"k": key})
            return _same_or_conflict(existing, command, payload), False
        log_activity(
            conn, actor=requested_by, action=f"command.{command.command_type.lower()}", outcome="info",
            channel=channel, entity_type="operator_command", entity_id=row.id, key=key, dry_run=command.dry_run,
            details={"queued": payload},
        )  # fmt: skip
    return row, True


def _same_or_conflict(existing, command: BaseModel, payload: dict[str, Any]):
    if (existing.command_type, existing.payload, existing.dry_run) != (
        command.command_type,
        payload,
        command.dry_run,
    ):
        raise IdempotencyConflict(
            f"idempotency key {command.idempotency_key!r} was used for command {existing.id} "
            f"({existing.command_type} {json.dumps(existing.payload)}); use a new key for a different command"
        )
    return existing


# --- carrying one out


def _claim(conn: Connection, command_id: int, run_id: str | None):
    """Running, under this run; None when it already finished (a repeated run changes nothing). A failed
    or interrupted command may be claimed again: the Publisher's intent rows make a retry safe."""
    return conn.execute(
        text(
            """
            UPDATE retail.operator_commands
               SET status = 'running', run_id = :run_id, attempts = attempts + 1, error = NULL,
                   started_at = coalesce(started_at, now())
             WHERE id = :id AND status IN ('queued', 'running', 'failed')
            RETURNING *
            """
        ),
        {"id": command_id, "run_id": run_id},
    ).one_or_none()


def _scope_and_intent(conn: Connection, command, payload: BaseModel) -> tuple[str, Scope]:
    """The Publisher scope for the command, after writing the command's desired values (its intent)."""
    if isinstance(payload, PublishListing):
        draft = _draft(conn, payload.draft_id)
        return draft.channel, Scope(draft_ids=(draft.id,), kinds=frozenset({"create"}))
    if isinstance(payload, BulkPublish):
        ids = tuple(payload.draft_ids) if payload.draft_ids else None
        return payload.channel, Scope(draft_ids=ids, kinds=frozenset({"create"}), limit=payload.limit)
    what = "reprice" if isinstance(payload, UpdatePrice) else "withdraw"
    listing = _live_listing(conn, payload.listing_id, what, lock=True)
    scope = Scope(listing_ids=(listing.id,), kinds=frozenset({"price" if what == "reprice" else "withdraw"}))
    if command.dry_run:
        return listing.channel, scope
    if isinstance(payload, UpdatePrice):
        # The draft's price too, so the next hourly pass keeps the operator's price; it holds until the
        # draft's inputs (supplier cost, content) change and the draft is priced afresh.
        conn.execute(
            text("UPDATE retail.channel_listings SET desired_price = :p WHERE id = :id"),
            {"p": payload.price, "id": listing.id},
        )
        conn.execute(
            text("UPDATE retail.listing_drafts SET price = :p WHERE id = :id"),
            {"p": payload.price, "id": listing.draft_id},
        )
    else:
        conn.execute(
            text("UPDATE retail.channel_listings SET desired_state = 'withdrawn', withdraw_reason = :r WHERE id = :id"),
            {"r": payload.reason, "id": listing.id},
        )  # fmt: skip
    return listing.channel, scope


def _dry_listing_change(conn: Connection, payload: BaseModel) -> dict[str, Any]:
    listing = conn.execute(
        text("SELECT * FROM retail.channel_listings WHERE id = :id"), {"id": payload.listing_id}
    ).one()
    if isinstance(payload, UpdatePrice):
        return {"listing_id": listing.id, "sku": listing.sku, "action": "reprice",
                "from": str(listing.actual_price), "to": str(payload.price)}  # fmt: skip
    return {"listing_id": listing.id, "sku": listing.sku, "action": "withdraw", "reason": payload.reason}


def _listing_views(conn: Connection, channel: str, scope: Scope) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            """
            SELECT id, sku, external_listing_id, listing_url, actual_state, actual_price, desired_price, currency,
                   last_error
              FROM retail.channel_listings
             WHERE channel = :c AND (id = ANY(CAST(:lids AS bigint[])) OR draft_id = ANY(CAST(:dids AS bigint[])))
             ORDER BY id
            """
        ),
        {"c": channel, "lids": list(scope.listing_ids or ()), "dids": list(scope.draft_ids or ())},
    )
    return [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in r._mapping.items()} for r in rows]


def outcome(result: PublishResult) -> tuple[str, str | None]:
    """(status, error) of a command from its Publisher pass."""
    refused = [e for e in result.errors if not e["retryable"]]
    if refused:
        return "human_required", "; ".join(f"{e['action']} {e['sku']}: {e['message']}" for e in refused)
    problems = [f"{e['action']} {e['sku']}: {e['message']}" for e in result.errors]
    if result.counts["deferred"]:
        budget = result.budget
        problems.append(
            f"{result.counts['deferred']} item(s) deferred: call budget used up "
            f"({budget.get('used')}/{budget.get('limit')}); run the command again later"
        )
    return ("failed", "; ".join(problems)) if problems else ("succeeded", None)


def _finish(
    engine: Engine, command, status: str, error: str | None, result: dict[str, Any], run_id: str | None
) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                UPDATE retail.operator_commands
                   SET status = :status, error = :error, result = CAST(:result AS jsonb), finished_at = now()
                 WHERE id = :id
                """
            ),
            {"status": status, "error": error, "result": json.dumps(result, default=str), "id": command.id},
        )
        if status == "human_required":
            open_task(
                conn, kind="command_human_required", key=f"command:{command.id}",
                title=f"{command.command_type} (command {command.id}) needs a person: {(error or '')[:200]}",
                details={"error": error, "payload": command.payload, "result": result}, channel=command.channel,
                entity_type="operator_command", entity_id=command.id, run_id=run_id,
            )  # fmt: skip
        log_activity(
            conn, actor=f"command:{command.id}", action=f"command.{command.command_type.lower()}",
            outcome="succeeded" if status == "succeeded" else "failed", channel=command.channel,
            entity_type="operator_command", entity_id=command.id, key=command.idempotency_key,
            dry_run=command.dry_run, details={"status": status, "error": error}, run_id=run_id,
        )  # fmt: skip


def execute(
    engine: Engine, channels: ChannelsResource, command_id: int, *, run_id: str | None = None, media_url=None
) -> dict[str, Any]:
    """Carry out one stored command; returns {status, error, result, channel, counts}. A command that
    already finished is left as it is."""
    with engine.begin() as conn:
        command = _claim(conn, command_id, run_id)
        if command is None:
            done = _command_row(conn, "id = :id", {"id": command_id})
            if done is None:
                raise CommandRejected(f"operator command {command_id} does not exist")
            return {"status": done.status, "error": done.error, "result": done.result, "channel": done.channel,
                    "already_finished": True, "counts": {}}  # fmt: skip
    try:
        payload = PAYLOADS[command.command_type].model_validate(command.payload)
        with engine.begin() as conn:
            channel, scope = _scope_and_intent(conn, command, payload)
            dry_change = (
                _dry_listing_change(conn, payload)
                if command.dry_run and isinstance(payload, UpdatePrice | WithdrawListing)
                else None
            )
    except (CommandRejected, ValidationError) as rejected:
        error = str(rejected)
        _finish(engine, command, "human_required", error, {}, run_id)
        return {
            "status": "human_required",
            "error": error,
            "result": {},
            "channel": command.channel,
            "counts": {},
        }
    except Exception as crash:
        _finish(engine, command, "failed", f"{type(crash).__name__}: {crash}"[:2000], {}, run_id)
        raise

    if dry_change is not None:  # a dry reprice / withdrawal: what would be sent, nothing written
        result = {"dry_run": True, "would": dry_change}
        _finish(engine, command, "succeeded", None, result, run_id)
        return {"status": "succeeded", "error": None, "result": result, "channel": channel, "counts": {}}

    publisher = Publisher(
        engine,
        channels.client(channel),
        media_url=media_url or photo_url_signer(),
        run_id=run_id,
        dry_run=command.dry_run,
        concurrency=BULK_CONCURRENCY,
        scope=scope,
        command_id=command.id,
        open_ops_tasks=False,  # the command's own task (human_required) carries the reason
    )

    async def run() -> PublishResult:
        async with publisher.client:
            return await publisher.run()

    try:
        published = asyncio.run(run())
    except Exception as crash:  # systemic (auth, an outage past the retries): recorded, then the run fails
        _finish(engine, command, "failed", f"{type(crash).__name__}: {crash}"[:2000], {}, run_id)
        raise
    status, error = outcome(published)
    with engine.connect() as conn:
        listings = _listing_views(conn, channel, scope) if scope.listing_ids or scope.draft_ids else []
    published_nothing = not any(listing["actual_state"] == "live" for listing in listings)
    if (
        status == "succeeded"
        and isinstance(payload, PublishListing)
        and not command.dry_run
        and published_nothing
    ):
        # nothing refused, nothing deferred, and still not live: the draft never became a listing intent
        status, error = (
            "human_required",
            (
                f"draft {payload.draft_id} was not published: its product is removed or out of stock "
                "at the supplier, or it has no stock"
            ),
        )
    result = {"counts": {k: v for k, v in published.counts.items() if v}, "errors": published.errors,
              "deferred": published.deferred, "budget": published.budget, "listings": listings[:50]}  # fmt: skip
    if published.payloads:
        result["dry_run_payloads"] = published.payloads[:20]
    _finish(engine, command, status, error, result, run_id)
    return {
        "status": status,
        "error": error,
        "result": result,
        "channel": channel,
        "counts": published.counts,
    }


# --- Dagster: the job (sensor- or Launchpad-launched) and the sensor


class OperatorCommandConfig(dg.Config):
    """Either `command_id` (a stored command: what the sensor sends), or the command's fields, as typed
    into the Launchpad (stored first, then carried out)."""

    command_id: int | None = None
    command_type: str | None = None  # PUBLISH_LISTING | UPDATE_PRICE | WITHDRAW_LISTING | BULK_PUBLISH
    draft_id: int | None = None
    listing_id: int | None = None
    price: str | None = None  # a decimal string, e.g. "129.99"
    reason: str | None = None
    channel: str | None = None
    draft_ids: list[int] | None = None
    limit: int | None = None
    dry_run: bool = False


def launchpad_command(config: OperatorCommandConfig) -> BaseModel:
    """The command typed into the Launchpad, validated like an API request."""
    from pydantic import TypeAdapter

    fields = {"draft_id": config.draft_id, "listing_id": config.listing_id, "price": config.price,
              "reason": config.reason, "channel": config.channel, "draft_ids": config.draft_ids,
              "limit": config.limit}  # fmt: skip
    wanted = set(PAYLOADS.get(config.command_type or "", BaseModel).model_fields)
    body = {
        "command_type": config.command_type,
        "dry_run": config.dry_run,
        "payload": {k: v for k, v in fields.items() if v is not None and k in wanted},
    }
    return TypeAdapter(CommandRequest).validate_python(body)


@dg.op(tags={"retail/area": "listings"}, pool="channel_listing_apis")
def execute_operator_command(
    context: dg.OpExecutionContext,
    config: OperatorCommandConfig,
    db: DatabaseResource,
    channels: ChannelsResource,
):
    """Carry out one operator command with the channel_listings Publisher (see module docstring)."""
    command_id = config.command_id
    if command_id is None:
        try:
            command = launchpad_command(config)
        except ValidationError as invalid:
            raise dg.Failure(f"not a valid command: {invalid}", allow_retries=False) from None
        command = command.model_copy(update={"idempotency_key": f"launchpad:{context.run_id}"})
        try:
            row, _ = submit(db.engine, command, requested_by=f"launchpad:{context.run_id}")
        except CommandRejected as rejected:
            raise dg.Failure(str(rejected), allow_retries=False) from None
        command_id = row.id
    try:
        done = execute(db.engine, channels, command_id, run_id=context.run_id)
    except CommandRejected as rejected:
        raise dg.Failure(str(rejected), allow_retries=False) from None
    counts = {k: v for k, v in done["counts"].items() if v}
    if not done.get("already_finished") and done["channel"] and counts and not done["result"].get("dry_run"):
        # The command changed the channel's listings: it shows in the asset's history as well.
        yield dg.AssetMaterialization(
            asset_key="channel_listings",
            partition=done["channel"],
            metadata={"operator_command_id": command_id, **counts},
        )
    if done["status"] == "failed":
        raise dg.Failure(f"command {command_id} failed: {done['error']}", allow_retries=False)
    context.log.info(
        f"command {command_id}: {done['status']}" + (f" ({done['error']})" if done["error"] else "")
    )
    yield dg.Output(None, metadata={"operator_command_id": command_id, "status": done["status"], **counts})


@dg.job(description="Carry out one operator command (run config: command_id, or the command's fields).")
def operator_command_job():
    execute_operator_command()


def command_run_config(command_id: int) -> dict[str, Any]:
    return {"ops": {"execute_operator_command": {"config": {"command_id": command_id}}}}


operator_commands_sensor = queued_rows_sensor(
    name="operator_commands_sensor",
    job=operator_command_job,
    queued="SELECT id, command_type, channel FROM retail.operator_commands WHERE status = 'queued'",
    run_key_prefix="command",
    run_config_for=lambda row: command_run_config(row.id),
    tags_for=lambda row: {
        "retail/command_id": str(row.id),
        "retail/command_type": row.command_type,
        **({"retail/channel": row.channel} if row.channel else {}),
    },
    skip_reason="no queued operator commands",
    minimum_interval_seconds=10,
    description="One run per queued command (run_key `command:<id>`), oldest first.",
)
