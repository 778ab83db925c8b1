"""Sync you can review (issue 12): detection and reconciliation as two Dagster jobs per channel.

`listing_sync_detect` reads the channel and writes pending `sync_events`, nothing else; an operator
reviews them (`GET /api/sync/runs/{run_id}`, the table) and then runs `listing_sync_apply`, for that
detection (`detect_run_id`), for chosen events (`event_ids`) or for everything pending. The scheduled
`listing_state_sync` job (the `listing_state` asset) still does both in one run, with the same functions.

Op jobs rather than asset jobs: a detection changes no asset (materialising `listing_state` would claim
a sync that did not happen), and an apply is narrowed by config to a run or some events. The apply op
records a `listing_state` materialisation when it changed something, as the asset would.
"""

# No `from __future__ import annotations`: Dagster inspects the ops' config annotations at runtime.

import dagster as dg
from pydantic import Field

from retail_pipeline.defs.listings.state import detect_in_step, reconcile
from retail_pipeline.defs.resources import ChannelsResource, DatabaseResource
from retail_pipeline.partitions import listing_channels

DETECT_JOB = "listing_sync_detect"
# One op per job: a step subprocess (the multiprocess executor) would only load the code a second time.
ONE_STEP = dg.in_process_executor
APPLY_JOB = "listing_sync_apply"


class ApplyConfig(dg.Config):
    """Which pending events of the run's channel to apply; leave both empty to apply all of them."""

    detect_run_id: str | None = Field(
        default=None, description="Only the events found by this detection run (its Dagster run id)."
    )
    event_ids: list[int] | None = Field(
        default=None, description="Only these retail.sync_events ids (with detect_run_id: those of that run)."
    )


@dg.op(tags={"retail/area": "listings"}, pool="channel_listing_apis")
def detect_listing_differences(
    context: dg.OpExecutionContext, db: DatabaseResource, channels: ChannelsResource
) -> dg.Output[dict[str, int]]:
    """The channel's selling list vs channel_listings → pending sync_events; applies nothing. No
    config: the run's partition is the channel."""
    channel = context.partition_key
    detected = detect_in_step(context, db.engine, channels, channel) or {"blocked": 1}
    return dg.Output(detected, metadata={"channel": channel, **detected})


@dg.op(tags={"retail/area": "listings"})
def apply_sync_events(context: dg.OpExecutionContext, config: ApplyConfig, db: DatabaseResource):
    """Apply pending sync_events of the channel (no channel call: the events carry what it said)."""
    channel = context.partition_key
    applied = reconcile(
        db.engine, channel, context.run_id, detect_run_id=config.detect_run_id, event_ids=config.event_ids
    )
    if applied["failed"]:
        context.log.warning(
            f"{applied['failed']} sync event(s) failed; their errors are on retail.sync_events"
        )
    if applied["processed"]:
        yield dg.AssetMaterialization(asset_key="listing_state", partition=channel, metadata=dict(applied))
    yield dg.Output(applied, metadata=dict(applied))


@dg.job(
    name=DETECT_JOB,
    partitions_def=listing_channels,
    executor_def=ONE_STEP,
    tags={"retail/area": "listings"},
    description="One channel: detect differences into pending sync_events, apply nothing (review, then "
    f"run {APPLY_JOB}).",
)
def listing_sync_detect_job() -> None:
    detect_listing_differences()


@dg.job(
    name=APPLY_JOB,
    partitions_def=listing_channels,
    executor_def=ONE_STEP,
    tags={"retail/area": "listings"},
    description="One channel: apply its pending sync_events (all, one detection run's, or chosen ids).",
)
def listing_sync_apply_job() -> None:
    apply_sync_events()
