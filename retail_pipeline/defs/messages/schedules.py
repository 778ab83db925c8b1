"""Buyer messages every 10 minutes: sync, then auto-replies, one run per channel."""

import dagster as dg

from retail_pipeline.partitions import message_channels

customer_messages_job = dg.define_asset_job(
    "customer_messages_sync",
    selection=dg.AssetSelection.assets("customer_messages", "auto_replies"),
    partitions_def=message_channels,
    description="One channel: sync buyer threads, then send the auto-replies they call for.",
)


@dg.schedule(
    job=customer_messages_job, cron_schedule="*/10 * * * *", default_status=dg.DefaultScheduleStatus.RUNNING
)
def customer_messages_every_10_minutes(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    tick = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else "manual"
    return [
        dg.RunRequest(partition_key=key, run_key=f"messages:{key}:{tick}", tags={"retail/channel": key})
        for key in message_channels.get_partition_keys()
    ]
