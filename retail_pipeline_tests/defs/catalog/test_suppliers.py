"""The supplier registry asset and the partition sensor that follows the table."""

from __future__ import annotations

import dagster as dg
from sqlalchemy import text

from retail_pipeline.db.engine import get_engine
from retail_pipeline.defs.catalog.suppliers import supplier_partitions_sensor, suppliers
from retail_pipeline.defs.resources import DatabaseResource
from retail_pipeline.domain.suppliers import DEFAULT_SUPPLIERS, effective_base_url
from retail_pipeline.partitions import partition_changes, supplier_partitions, sync_dynamic_partitions


def _rows(engine):
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT code, adapter, enabled, enrichment_blocked, enrichment_blocked_reason, updated_at"
                " FROM retail.suppliers ORDER BY code"
            )
        ).all()


def test_asset_function_upserts_registry_and_second_call_writes_nothing(db_url):
    db = DatabaseResource(url=db_url)
    first = suppliers(db=db)
    assert first.metadata["inserted"] == len(DEFAULT_SUPPLIERS)
    rows = _rows(db.engine)
    assert {r.code for r in rows} == {s.code for s in DEFAULT_SUPPLIERS}
    cash = next(r for r in rows if r.code == "cash_converters")
    assert cash.enrichment_blocked and "second-hand" in cash.enrichment_blocked_reason

    second = suppliers(db=db)
    assert (second.metadata["inserted"], second.metadata["updated"], second.metadata["unchanged"]) == (
        0,
        0,
        len(DEFAULT_SUPPLIERS),
    )
    assert _rows(db.engine) == rows  # not even updated_at moved


def test_operator_choices_survive_a_rematerialisation(db_url):
    db = DatabaseResource(url=db_url)
    suppliers(db=db)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE retail.suppliers SET enabled = false WHERE code = 'noel_leeming'"))
        conn.execute(text("UPDATE retail.suppliers SET adapter = 'generic' WHERE code = 'onecheq'"))
    result = dg.materialize([suppliers], resources={"db": db})
    assert result.success
    metadata = result.asset_materializations_for_node("suppliers")[0].metadata
    assert metadata["updated"].value == 1  # the config-owned column was put back
    rows = {r.code: r for r in _rows(db.engine)}
    assert rows["onecheq"].adapter == "shopify_storefront"
    assert rows["noel_leeming"].enabled is False  # `enabled` belongs to operators
    assert metadata["suppliers_enabled"].value == len(DEFAULT_SUPPLIERS) - 1


def test_sensor_adds_and_removes_supplier_partitions(db_url):
    db = DatabaseResource(url=db_url)
    suppliers(db=db)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(supplier_partitions.name, ["retired_supplier"])
        context = dg.build_sensor_context(instance=instance, resources={"db": db})
        result = supplier_partitions_sensor(context)
        assert isinstance(result, dg.SensorResult)
        adds = [
            r for r in result.dynamic_partitions_requests if isinstance(r, dg.AddDynamicPartitionsRequest)
        ]
        deletes = [
            r for r in result.dynamic_partitions_requests if isinstance(r, dg.DeleteDynamicPartitionsRequest)
        ]
        assert sorted(adds[0].partition_keys) == sorted(s.code for s in DEFAULT_SUPPLIERS)
        assert deletes[0].partition_keys == ["retired_supplier"]

        # Once applied (as the daemon would), the next tick has nothing to do.
        sync_dynamic_partitions(instance, get_engine(db_url))
        again = supplier_partitions_sensor(dg.build_sensor_context(instance=instance, resources={"db": db}))
        assert again.dynamic_partitions_requests == [] or again.dynamic_partitions_requests is None
        assert set(instance.get_dynamic_partitions("supplier")) == {s.code for s in DEFAULT_SUPPLIERS}


def test_partition_changes_is_a_pure_diff():
    assert partition_changes({"a", "b"}, {"b", "c"}) == (["c"], ["a"])
    assert partition_changes(set(), set()) == ([], [])


def test_base_url_comes_from_override_then_simulator_then_real_site():
    common = {"simulator_url": "http://127.0.0.1:9/", "overrides": {}}
    assert effective_base_url("onecheq", "https://onecheq.co.nz", use_simulators=True, **common) == (
        "http://127.0.0.1:9/onecheq"
    )
    assert effective_base_url("onecheq", "https://onecheq.co.nz", use_simulators=False, **common) == (
        "https://onecheq.co.nz"
    )
    assert (
        effective_base_url("new_one", "https://x.example", use_simulators=True, **common)
        == "https://x.example"
    )
    assert (
        effective_base_url(
            "onecheq",
            None,
            use_simulators=True,
            simulator_url="http://s",
            overrides={"onecheq": "https://o/"},
        )
        == "https://o"
    )
