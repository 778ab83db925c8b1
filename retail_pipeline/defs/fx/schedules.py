"""The reference rates once a day, after the ECB publishes them (around 16:00 CET on business days)."""

import dagster as dg

fx_rates_job = dg.define_asset_job(
    "fx_rates_refresh",
    selection=dg.AssetSelection.assets("fx_rates"),
    description="The ECB's euro reference rates of the last 90 days, upserted.",
)


@dg.schedule(
    job=fx_rates_job,
    cron_schedule="30 16 * * 1-5",
    execution_timezone="Europe/Berlin",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def daily_fx_rates(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Weekdays 16:30 Frankfurt time, half an hour after the ECB's publication; a holiday's run finds
    nothing new and changes nothing."""
    tick = context.scheduled_execution_time.isoformat() if context.scheduled_execution_time else "manual"
    return dg.RunRequest(run_key=f"fx_rates:{tick}")
