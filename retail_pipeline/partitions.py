"""Partition sets, and keeping the dynamic ones in step with the tables that define them."""

from __future__ import annotations

import dagster as dg
from sqlalchemy import Engine, text

# One partition per supplier row: a new supplier is a row (plus adapter config), not a deploy.
supplier_partitions = dg.DynamicPartitionsDefinition(name="supplier")


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
