"""The listing assets, partitioned by channel: `listing_drafts` (drafts.py) → `channel_listings`."""

# No `from __future__ import annotations`: Dagster inspects the context annotations at runtime.

import asyncio

import dagster as dg

from retail_pipeline.defs.channel_pools import holding_channel_pool
from retail_pipeline.defs.listings.publish import publish
from retail_pipeline.defs.resources import ChannelsResource, DatabaseResource
from retail_pipeline.media.links import photo_url_signer
from retail_pipeline.partitions import listing_channels

__all__ = ["channel_listings", "listing_channels"]

PREVIEW = 5


class ChannelListingsConfig(dg.Config):
    dry_run: bool = False  # build the exact payloads, call nothing, write no intent rows
    concurrency: int = 8  # items in flight at once within a priority class (1 = serial)


@dg.asset(
    partitions_def=listing_channels,
    deps=[dg.AssetKey("listing_drafts")],
    group_name="listings",
    kinds={"postgres"},
    pool="channel_listing_apis",
)
def channel_listings(
    context: dg.AssetExecutionContext,
    config: ChannelListingsConfig,
    db: DatabaseResource,
    channels: ChannelsResource,
) -> dg.MaterializeResult:
    """Publishes the channel's valid drafts (intent committed before each call, crash reconciled
    by SKU lookup), reprices where desired ≠ live price, withdraws removed / out-of-stock products,
    in priority order within the channel's call budget; the remainder is deferred, not failed."""
    channel = context.partition_key
    with holding_channel_pool(context, channel):
        result = asyncio.run(
            publish(
                db.engine,
                channels.client(channel),
                media_url=photo_url_signer(),
                run_id=context.run_id,
                dry_run=config.dry_run,
                concurrency=config.concurrency,
            )
        )
    metadata: dict = dict(result.counts)
    metadata["deferred_by_kind"] = dg.MetadataValue.json(result.deferred)
    metadata["budget"] = dg.MetadataValue.json(result.budget)
    if result.payloads:
        metadata["dry_run_payloads"] = dg.MetadataValue.json(result.payloads[:PREVIEW])
    return dg.MaterializeResult(metadata=metadata)
