"""`customer_messages` (threads → conversations/messages) and `auto_replies`, one partition per channel.

Partitioned by channel (those whose plug-in has an inbox): each channel has its own API, limits and failures, and a
backfill of one channel's sync is then one click. Both are incremental by design (the sync's cursor
comes from the stored messages, the replies from the conversations' state), so a re-run is a no-op.
"""

import asyncio
from datetime import datetime
from typing import Any

import dagster as dg

from retail_pipeline.defs.messages.replies import AutoReplier, ReplyResult
from retail_pipeline.defs.messages.settings import MessagingSettings
from retail_pipeline.defs.messages.sync import MessageSync, SyncResult
from retail_pipeline.defs.resources import ChannelsResource, DatabaseResource
from retail_pipeline.domain.buyer_messages import Inbox
from retail_pipeline.partitions import message_channels


async def _closing(inbox: Inbox, work: Any) -> Any:
    try:
        return await work
    finally:
        await inbox.aclose()


def sync_channel(engine: Any, inbox: Inbox, *, run_id: str | None = None) -> SyncResult:
    return asyncio.run(_closing(inbox, MessageSync(engine, inbox, run_id=run_id).run()))


def reply_channel(
    engine: Any,
    inbox: Inbox,
    *,
    settings: MessagingSettings | None = None,
    run_id: str | None = None,
    now: Any = None,
    after_send: Any = None,
) -> ReplyResult:
    settings = settings or MessagingSettings()
    replier = AutoReplier(
        engine, inbox, policy=settings.policy(), run_id=run_id, now=now, after_send=after_send
    )
    return asyncio.run(_closing(inbox, replier.run()))


def _cursor(value: datetime | None) -> str:
    return value.isoformat() if value else "start"


@dg.asset(
    partitions_def=message_channels, group_name="messages", kinds={"postgres"}, pool="channel_message_apis"
)
def customer_messages(
    context: dg.AssetExecutionContext, db: DatabaseResource, channels: ChannelsResource
) -> dg.MaterializeResult:
    """The channel's buyer threads updated since the last inbound message we hold (less 5 min),
    upserted with their customer and messages and linked to their order; a shop reply matching a
    pending auto-reply adopts it. Idempotent: a second run writes nothing."""
    result = sync_channel(db.engine, channels.inbox(context.partition_key), run_id=context.run_id)
    metadata: dict[str, Any] = dict(result.counts)
    metadata["cursor"] = _cursor(result.cursor)
    metadata["new_preview"] = dg.MetadataValue.json(result.new_messages)
    metadata["failed_preview"] = dg.MetadataValue.json(result.failed[:5])
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    partitions_def=message_channels,
    deps=[customer_messages],
    group_name="messages",
    kinds={"postgres"},
    pool="channel_message_apis",
)
def auto_replies(
    context: dg.AssetExecutionContext, db: DatabaseResource, channels: ChannelsResource
) -> dg.MaterializeResult:
    """At most one templated reply per trigger per conversation (written 'pending' with its key and
    committed before the call, then sent and marked 'sent'); pending rows from a crashed run are
    looked up in the remote thread before any resend. MESSAGES_AUTO_REPLIES_ENABLED=false: nothing sent."""
    settings = MessagingSettings()
    if not settings.auto_replies_enabled:
        return dg.MaterializeResult(metadata={"enabled": False})
    result = reply_channel(
        db.engine, channels.inbox(context.partition_key), settings=settings, run_id=context.run_id
    )
    metadata: dict[str, Any] = dict(result.counts)
    metadata["sent_preview"] = dg.MetadataValue.json(result.sent)
    metadata["failed_preview"] = dg.MetadataValue.json(result.failed[:5])
    return dg.MaterializeResult(metadata=metadata)
