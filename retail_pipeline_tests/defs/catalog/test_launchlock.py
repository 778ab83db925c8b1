"""validated_products and its gate, against a real database seeded with SQL."""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import pytest
from sqlalchemy import Engine, text

from retail_pipeline.defs.catalog.launchlock import launchlock_failure_rate, validated_products
from retail_pipeline.defs.resources import DatabaseResource
from retail_pipeline.domain.launchlock import RULES_VERSION
from retail_pipeline.partitions import supplier_partitions
from retail_pipeline_tests.seeds.catalog import add_product, add_supplier

CHECK_KEY = dg.AssetCheckKey(dg.AssetKey("validated_products"), "launchlock_failure_rate")


# Stands in for listing_drafts: what a blocking check on validated_products must hold back.
@dg.asset(partitions_def=supplier_partitions, deps=[validated_products])
def drafts_probe() -> None:
    pass


@pytest.fixture
def onecheq(db: DatabaseResource) -> dict[str, int]:
    """Two listable products, one without a downloaded image and with a bad GTIN, one removed; and a
    product of another supplier that the onecheq partition must not touch."""
    with db.engine.begin() as conn:
        supplier = add_supplier(conn, "onecheq")
        other = add_supplier(conn, "noel_leeming")
        return {
            "good_1": add_product(conn, supplier, "A1"),
            "good_2": add_product(conn, supplier, "A2", price=Decimal("75.00")),
            "broken": add_product(conn, supplier, "B1", images=0, failed_images=2, gtin="4006381333932"),
            "removed": add_product(conn, supplier, "C1", removed=True),
            "elsewhere": add_product(conn, other, "N1"),
        }


def _results(engine: Engine) -> dict[int, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT product_id, passed, failed_rules, details, rules_version, validated_at"
                " FROM retail.validation_results"
            )
        )
        return {r.product_id: tuple(r)[1:] for r in rows}


def _instance(*keys: str) -> dg.DagsterInstance:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(supplier_partitions.name, list(keys))
    return instance


def _materialize(db: DatabaseResource, key: str) -> dg.ExecuteInJobResult:
    return dg.materialize(
        [validated_products, launchlock_failure_rate, drafts_probe],
        partition_key=key,
        instance=_instance(key),
        resources={"db": db},
        raise_on_error=False,
    )


def _check(result: dg.ExecuteInJobResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.asset_check_key == CHECK_KEY]
    return evaluation


def _drafts_ran(result: dg.ExecuteInJobResult) -> bool:
    return bool(result.asset_materializations_for_node("drafts_probe"))


def test_asset_function_writes_one_verdict_per_product_of_the_partition(db, onecheq):
    result = validated_products(context=dg.build_asset_context(partition_key="onecheq"), db=db)

    assert {k: result.metadata[k] for k in ("checked", "passed", "failed", "rows_inserted")} == {
        "checked": 4,
        "passed": 2,
        "failed": 2,
        "rows_inserted": 4,
    }
    assert result.metadata["top_blockers"] == {"images": 1, "gtin": 1, "not_removed": 1}
    rows = _results(db.engine)
    assert set(rows) == {onecheq[k] for k in ("good_1", "good_2", "broken", "removed")}  # not "elsewhere"
    assert rows[onecheq["good_1"]][:4] == (True, [], {}, RULES_VERSION)
    passed, failed_rules, details, _, _ = rows[onecheq["broken"]]
    assert not passed and failed_rules == ["images", "gtin"]
    assert details["images"] == "0 image(s) downloaded, needs 1"
    assert rows[onecheq["removed"]][1] == ["not_removed"]


def test_second_run_rewrites_nothing_and_a_change_rewrites_only_its_product(db, onecheq):
    context = dg.build_asset_context(partition_key="onecheq")
    validated_products(context=context, db=db)
    before = _results(db.engine)

    again = validated_products(context=context, db=db)

    assert (again.metadata["rows_inserted"], again.metadata["rows_updated"]) == (0, 0)
    assert again.metadata["rows_unchanged"] == 4
    assert _results(db.engine) == before  # validated_at untouched too

    with db.engine.begin() as conn:  # the missing image arrives
        conn.execute(
            text(
                "UPDATE retail.supplier_product_images i SET media_asset_id = m.id, error = NULL"
                "  FROM retail.media_assets m, retail.supplier_products sp"
                " WHERE sp.id = i.supplier_product_id AND sp.sku = 'B1' AND i.position = 0"
                "   AND m.id = (SELECT min(id) FROM retail.media_assets)"
            )
        )
    third = validated_products(context=context, db=db)

    assert (third.metadata["rows_inserted"], third.metadata["rows_updated"]) == (0, 1)
    assert _results(db.engine)[onecheq["broken"]][1] == ["gtin"]


def test_materialized_with_its_gate_below_the_threshold(db, onecheq):
    result = _materialize(db, "onecheq")

    assert result.success
    evaluation = _check(result)
    assert evaluation.passed
    # The removed product is left out of the rate: 1 failing of the 3 the supplier still lists.
    assert {k: evaluation.metadata[k].value for k in ("checked", "failed", "failure_rate")} == {
        "checked": 3,
        "failed": 1,
        "failure_rate": 0.3333,
    }
    assert _drafts_ran(result)


def test_gate_above_the_threshold_fails_and_holds_drafts_back(db, monkeypatch):
    with db.engine.begin() as conn:  # a bad batch: content the rules refuse, on sold-out products too
        supplier = add_supplier(conn, "cash_converters")
        add_product(conn, supplier, "OK")
        add_product(conn, supplier, "NOPRICE", price=None)
        add_product(conn, supplier, "REPLICA", title="Replica Rolex Submariner Watch", stock_quantity=0)

    blocked = _materialize(db, "cash_converters")

    evaluation = _check(blocked)
    assert not blocked.success  # a failed blocking check fails its step, hence the run
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["failure_rate"].value == 0.6667
    assert evaluation.metadata["max_failure_rate"].value == 0.5
    assert evaluation.metadata["top_blockers"].value == {"banned_words": 1, "in_stock": 1, "price": 1}
    assert blocked.asset_materializations_for_node("validated_products")  # verdicts are still written
    assert not _drafts_ran(blocked)

    monkeypatch.setenv("LAUNCHLOCK_MAX_FAILURE_RATE", "0.7")
    allowed = _materialize(db, "cash_converters")

    assert allowed.success and _check(allowed).passed and _drafts_ran(allowed)


def test_sold_out_products_do_not_count_against_the_gate(db):
    """After hours of sales most of a supplier's products can be sold out: a business state, not a bad
    batch, so the gate passes and the rest still reach drafts; sold-out products stay unlisted."""
    with db.engine.begin() as conn:
        supplier = add_supplier(conn, "onecheq")
        add_product(conn, supplier, "LEFT")
        sold_out = [
            add_product(conn, supplier, "BOUGHT_1", stock_quantity=0),
            add_product(conn, supplier, "BOUGHT_2", stock_quantity=0),
            add_product(conn, supplier, "SUPPLIER_OUT", availability="out_of_stock", stock_quantity=None),
        ]
        add_product(conn, supplier, "NOPRICE", price=None)

    result = _materialize(db, "onecheq")

    evaluation = _check(result)
    assert result.success and evaluation.passed and _drafts_ran(result)
    assert {k: evaluation.metadata[k].value for k in ("checked", "failed", "sold_out", "failure_rate")} == {
        "checked": 5,
        "failed": 1,
        "sold_out": 3,
        "failure_rate": 0.2,
    }
    assert evaluation.metadata["top_blockers"].value == {"price": 1}
    verdicts = _results(db.engine)
    assert all(verdicts[product][:2] == (False, ["in_stock"]) for product in sold_out)


def test_enrichment_blocked_supplier_is_validated_on_store_content(db):
    with db.engine.begin() as conn:
        supplier = add_supplier(conn, "cash_converters", enrichment_blocked=True)
        product = add_product(
            conn,
            supplier,
            "CC1",
            status="blocked",
            title=None,
            description=None,
            category=None,
            supplier_title="Apple iPhone 12 64GB Black - pre-owned",
            supplier_description="Pre-owned and fully tested. Light scratches on the frame, the screen is "
            "clean. Charging cable included.",
            supplier_categories=("Phones", "Smartphones"),
        )

    result = validated_products(context=dg.build_asset_context(partition_key="cash_converters"), db=db)

    assert result.metadata["passed"] == 1
    assert _results(db.engine)[product][0] is True


def test_disabled_supplier_fails_every_product(db, onecheq):
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE retail.suppliers SET enabled = false WHERE code = 'onecheq'"))

    result = validated_products(context=dg.build_asset_context(partition_key="onecheq"), db=db)

    assert result.metadata["passed"] == 0 and result.metadata["top_blockers"]["supplier_enabled"] == 4


def test_partition_without_a_supplier_row_fails_clearly(db):
    with pytest.raises(dg.Failure, match="'ghost' has no row in retail.suppliers"):
        validated_products(context=dg.build_asset_context(partition_key="ghost"), db=db)


def test_supplier_without_products_checks_nothing_and_passes_the_gate(db):
    with db.engine.begin() as conn:
        add_supplier(conn, "allegro")

    result = _materialize(db, "allegro")

    assert result.success and _check(result).passed
    metadata = result.asset_materializations_for_node("validated_products")[0].metadata
    assert metadata["checked"].value == 0
