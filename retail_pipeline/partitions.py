"""Every partition set of the graph, and keeping the dynamic one in step with the table that defines it.

Suppliers are rows (a new supplier is a row, not a deploy); channels come from the channel registry,
one set per capability; orders are channel × UTC day."""

from __future__ import annotations

from datetime import date

import dagster as dg
from sqlalchemy import Engine, text

from retail_pipeline.channels.registry import channel_names

# One partition per supplier row: a new supplier is a row (plus adapter config), not a deploy.
supplier_partitions = dg.DynamicPartitionsDefinition(name="supplier")
# The channels we list on (listing drafts, listings, their state).
listing_channels = dg.StaticPartitionsDefinition(list(channel_names("listings")))
# The channels whose buyers' messages we sync and answer.
message_channels = dg.StaticPartitionsDefinition(list(channel_names("buyer_messages")))

# The simulators' world starts on 2025-06-02; real order history before this is out of scope.
FIRST_DAY = "2025-06-01"
order_channels = dg.StaticPartitionsDefinition(list(channel_names("orders")))
# end_offset=1: today's (still open) day is a partition too, which the 10-minute schedule syncs.
order_days = dg.DailyPartitionsDefinition(start_date=FIRST_DAY, end_offset=1)
order_partitions = dg.MultiPartitionsDefinition({"channel": order_channels, "day": order_days})


def split_order_key(key: str) -> tuple[str, date]:
    """(channel, day) of a `channel|day` order partition key."""
    dims = order_partitions.get_partition_key_from_str(str(key)).keys_by_dimension
    return dims["channel"], date.fromisoformat(dims["day"])


def order_partition_key(channel: str, day: date) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"channel": channel, "day": day.isoformat()})


def enabled_supplier_codes(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(text("SELECT code FROM retail.suppliers WHERE enabled ORDER BY code")))


def partition_changes(current: set[str], wanted: set[str]) -> tuple[list[str], list[str]]:
    """(to add, to delete), each sorted: pure, so the sensor and run-once agree."""
    return sorted(wanted - current), sorted(current - wanted)


def sync_dynamic_partitions(
    instance: dg.DagsterInstance, engine: Engine | None = None
) -> dict[str, list[str]]:
    """Apply the supplier partition changes directly (run-once; the sensor returns requests instead)."""
    if engine is None:
        from retail_pipeline.db.engine import get_engine, resolve_database_url

        engine = get_engine(resolve_database_url())
    current = set(instance.get_dynamic_partitions(supplier_partitions.name))
    add, delete = partition_changes(current, set(enabled_supplier_codes(engine)))
    if add:
        instance.add_dynamic_partitions(supplier_partitions.name, add)
    for key in delete:
        instance.delete_dynamic_partition(supplier_partitions.name, key)
    return {"added": add, "deleted": delete}
