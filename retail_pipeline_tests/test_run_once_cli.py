"""`retail-pipeline run-once --json` as a user runs it: the whole graph against the simulators, then
again with nothing to do. A file of its own, so the other command tests do not queue behind it
(pytest-xdist's --dist loadfile gives a file to one worker)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from retail_pipeline.channels.registry import channel_names
from retail_pipeline.definitions import defs as build_defs
from retail_pipeline.orchestration import named_asset_jobs
from retail_pipeline_tests.process_tree import free_port
from retail_pipeline_tests.test_cli import run_cli


def test_run_once_json_runs_the_whole_graph_and_a_second_run_writes_nothing(database_url, tmp_path):
    env = {
        "DATABASE_URL": database_url,
        "RETAIL_DATA_DIR": str(tmp_path / "var"),
        "SIMULATOR_PORT": str(free_port()),
        "SIMULATOR_PRODUCTS_PER_SUPPLIER": "12",
    }
    done = run_cli("run-once", "--json", env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    summary = json.loads(done.stdout)
    assert summary["ok"] is True, summary
    stages = summary["stages"]
    assert stages["suppliers"]["suppliers_total"] >= 4
    for supplier in ("onecheq", "noel_leeming", "cash_converters"):
        assert stages["supplier_products"][supplier]["scraped"] > 0
        assert (
            stages["validated_products"][supplier]["checked"]
            == stages["supplier_products"][supplier]["active_products"]
        )
    assert stages["product_images"]["total"]["stored"] > 0
    assert (
        stages["enriched_products"]["total"]["llm_calls"]
        == stages["enriched_products"]["total"]["enriched"]
        > 0
    )
    assert all(run["success"] for run in summary["runs"])
    with psycopg.connect(database_url) as conn:  # the runs are in Dagster's history in Postgres
        run_ids = {r[0] for r in conn.execute("SELECT run_id FROM dagster.runs")}
        job_names = {r[0] for r in conn.execute("SELECT DISTINCT pipeline_name FROM dagster.runs")}
        products = conn.execute("SELECT count(*) FROM retail.supplier_products").fetchone()[0]
        # The market ran after validation: what it sold out is the only verdict left to change.
        sold_out = conn.execute(
            "SELECT count(*) FROM retail.validation_results vr JOIN retail.products p ON p.id = vr.product_id"
            " WHERE vr.passed AND p.stock_quantity = 0"
        ).fetchone()[0]
    assert {run["run_id"] for run in summary["runs"]} <= run_ids
    # The history shows the jobs the schedules launch (catalog_refresh, order_sync, …), no anonymous ones.
    assert job_names == {run["job"] for run in summary["runs"]} <= set(named_asset_jobs(build_defs()))
    assert products == stages["supplier_products"]["total"]["active_products"]
    assert summary["market"]["purchases"] > 0
    packer = summary["packer"]  # packed through the sidecar's routes between labels and tracking
    assert packer["packed"] == stages["tracking_updates"]["shipped"] > 0 and packer["refused"] == 0, packer
    history_rows = _assert_every_order_fulfilled(database_url, tmp_path / "var", env)

    # No shopping this time, so nothing else moves between the runs.
    again = run_cli("run-once", "--json", env={**env, "RUN_ONCE_MARKET_MINUTES": "0"}, timeout=300)
    stages = json.loads(again.stdout)["stages"]
    assert stages["suppliers"]["inserted"] == 0
    written = stages["supplier_products"]["total"]
    assert (written["inserted"], written["updated"], written["removed"]) == (0, 0, 0)
    assert stages["product_images"]["total"]["downloaded"] == 0
    assert stages["enriched_products"]["total"]["llm_calls"] == 0
    verdicts = stages["validated_products"]["total"]
    assert (verdicts["rows_inserted"], verdicts["rows_updated"]) == (0, sold_out)
    assert verdicts["failed"] >= sold_out
    # Fulfilment found nothing left to do, and the history did not grow.
    assert stages["order_acceptance"]["orders_found"] == 0
    assert stages["shipping_labels"]["orders_new"] == 0 and stages["tracking_updates"]["orders_found"] == 0
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM retail.order_status_history").fetchone()[0] == history_rows


FLOWS = {  # every order's whole history after one run of the graph (packed by the simulated packer)
    ("accepted", "label_created", "packed", "shipped"),
    ("pending_acceptance", "accepted", "label_created", "packed", "shipped"),
    ("pending_acceptance", "refused"),  # Best Buy order we could not fill: refused, never shipped
}


def _assert_every_order_fulfilled(database_url: str, data_dir: Path, env: dict[str, str]) -> int:
    """Orders from every channel went accepted -> label_created -> packed -> shipped (the New Zealand
    suppliers' stock by a courier whose tracking the simulated packer entered, Canadian stock with a
    Canada Post label on disk that passes the check), and the simulators (their saved world) hold our
    tracking for each. Returns the number of history rows."""
    import hashlib

    from retail_pipeline.domain.labels import check_label
    from retail_pipeline.simulators import SimulatorConfig, build_simulator_app, get_simulator
    from retail_pipeline.simulators.persistence import load_state, state_path
    from retail_pipeline_tests.defs.fulfilment.remote import remote_tracking

    with psycopg.connect(database_url) as conn:
        flows = conn.execute(
            """SELECT o.channel::text, o.external_order_id, array_agg(h.status ORDER BY h.id), s.tracking_pin,
                      s.label_path, s.label_sha256, o.shipping_address->>'zip_code', s.carrier,
                      s.tracking_entered_by, l.country
                 FROM retail.orders o JOIN retail.order_status_history h ON h.order_id = o.id
                 LEFT JOIN retail.shipments s ON s.order_id = o.id
                 LEFT JOIN retail.locations l ON l.id = s.origin_location_id
                GROUP BY o.id, s.id, l.id ORDER BY o.id"""
        ).fetchall()
        history_rows = conn.execute("SELECT count(*) FROM retail.order_status_history").fetchone()[0]
    assert {tuple(f[2]) for f in flows} <= FLOWS, [f[:3] for f in flows if tuple(f[2]) not in FLOWS]
    shipped = [f for f in flows if f[2][-1] == "shipped"]
    # orders from all seven channels (Best Buy sells our Shopify offers), so listings live on the six others
    assert {f[0] for f in shipped} == set(channel_names("orders"))
    sim = get_simulator(
        build_simulator_app(
            SimulatorConfig(products_per_supplier=int(env["SIMULATOR_PRODUCTS_PER_SUPPLIER"]))
        )
    )
    assert "mirakl" in load_state(sim, state_path(data_dir))
    for channel, external, _, pin, label_path, sha256, postal_code, carrier, entered_by, origin in shipped:
        if origin == "NZ":  # stock in Auckland: never a Canada Post label, a courier booked by hand
            assert (carrier, label_path, entered_by is not None) == ("nz_post", None, True), (
                channel,
                external,
            )
        else:
            assert carrier == "canada_post" and origin == "CA"
            pdf = (data_dir / label_path).read_bytes()
            assert hashlib.sha256(pdf).hexdigest() == sha256
            assert check_label(pdf, pin, postal_code) == [], (channel, external)
        assert remote_tracking(sim, channel, external, carrier) == [pin], (channel, external)
    return history_rows
