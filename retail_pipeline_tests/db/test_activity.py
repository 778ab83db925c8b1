"""db.activity.log_activity: the one activity_log writer; the actor defaults to the run that acted."""

from __future__ import annotations

from sqlalchemy import text

from retail_pipeline.db.activity import log_activity
from retail_pipeline.db.engine import get_engine


def test_each_call_writes_one_row_with_its_actor(db_url):
    engine = get_engine(db_url)
    with engine.begin() as conn:
        log_activity(conn, action="listing.publish", outcome="intent", run_id="r1", channel="ebay",
                     entity_type="channel_listing", entity_id=7, key="ebay:RP-1", dry_run=True,
                     details={"price": 10})  # fmt: skip
        log_activity(conn, action="stock.sale", outcome="succeeded")
        log_activity(conn, action="ops_task.resolve", actor="api_key:ab12", run_id="r2")
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT actor, action, outcome, channel, entity_type, entity_id, idempotency_key, dry_run,"
                " details, run_id FROM retail.activity_log ORDER BY id"
            )
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("run:r1", "listing.publish", "intent", "ebay", "channel_listing", "7", "ebay:RP-1", True, {"price": 10}, "r1"),
        ("system", "stock.sale", "succeeded", None, None, None, None, False, {}, None),
        ("api_key:ab12", "ops_task.resolve", "info", None, None, None, None, False, {}, "r2"),
    ]  # fmt: skip
