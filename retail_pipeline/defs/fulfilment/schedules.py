"""Fulfilment every 5 minutes: accept Best Buy orders, buy labels, push tracking. Each step picks its
orders by their latest status, so a tick with nothing to do costs three short queries."""

import dagster as dg

fulfilment_job = dg.define_asset_job(
    "fulfilment",
    selection=dg.AssetSelection.assets("order_acceptance", "shipping_labels", "tracking_updates"),
    description="Accept waiting Best Buy orders, buy a label per accepted order, push tracking: shipped.",
)

fulfilment_every_5_minutes = dg.ScheduleDefinition(
    name="fulfilment_every_5_minutes",
    job=fulfilment_job,
    cron_schedule="*/5 * * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
