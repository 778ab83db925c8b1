"""Listing automation: publish/reprice/withdraw hourly after the catalog refresh, state sync every 30 min."""

import dagster as dg

from retail_pipeline.defs.listings.sync_jobs import listing_sync_detect_job
from retail_pipeline.partitions import listing_channels

listings_publish_job = dg.define_asset_job(
    "listings_publish",
    selection=dg.AssetSelection.assets("channel_categories", "listing_drafts", "channel_listings"),
    partitions_def=listing_channels,
    description="One channel: categories, drafts, then publish / reprice / withdraw within the channel's call budget.",
)

listing_state_job = dg.define_asset_job(
    "listing_state_sync",
    selection=dg.AssetSelection.assets("listing_state"),
    partitions_def=listing_channels,
    description="One channel: detect differences into sync_events, then reconcile them.",
)


def _per_channel(context: dg.ScheduleEvaluationContext, name: str) -> list[dg.RunRequest]:
    tick = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else "manual"
    return [
        dg.RunRequest(partition_key=key, run_key=f"{name}:{key}:{tick}", tags={"retail/channel": key})
        for key in listing_channels.get_partition_keys()
    ]


@dg.schedule(
    job=listings_publish_job, cron_schedule="30 * * * *", default_status=dg.DefaultScheduleStatus.RUNNING
)
def hourly_listings_publish(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """Half past each hour (after the hourly catalog refresh): one run per channel. A channel's call
    budget used up in one hour leaves the remainder pending for the next."""
    return _per_channel(context, "publish")


@dg.schedule(
    job=listing_state_job, cron_schedule="*/30 * * * *", default_status=dg.DefaultScheduleStatus.RUNNING
)
def listing_state_every_30_minutes(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    return _per_channel(context, "state")


@dg.schedule(
    job=listing_sync_detect_job, cron_schedule="*/30 * * * *", default_status=dg.DefaultScheduleStatus.STOPPED
)
def listing_sync_detect_every_30_minutes(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """For a shop that reviews every change: turn this on and listing_state_every_30_minutes off; the
    differences wait as pending sync_events for listing_sync_apply (or POST /api/sync/…)."""
    return _per_channel(context, "detect")
