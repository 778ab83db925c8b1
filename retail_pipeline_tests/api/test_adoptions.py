"""POST /api/adoptions/{task_id}/adopt|create-product|ignore: the operator's answer to a listing_adoption
task, idempotent, 409 on conflicts, the task closed, and what each leaves in the tables."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text

from retail_pipeline.defs.listings.state import detect, reconcile
from retail_pipeline.integrations.marketplaces.base import RemoteListing
from retail_pipeline_tests.seeds.listed_products import seed_products

CHANNEL = "reverb"
STRAT = RemoteListing("E-2", None, Decimal("1100.00"), 1, "live", brand="Fender", mpn="0144502500",
                      title="Fender Player Strat, sunburst")  # fmt: skip
STRAT_AGAIN = RemoteListing("E-5", None, Decimal("990.00"), 1, "live", brand="Fender", mpn="0144502500",
                            title="Fender Player Stratocaster (spare)")  # fmt: skip
AMP = RemoteListing(
    "E-4", "SHOP-77", Decimal("149.00"), 1, "live", title="Marshall MG15 practice amp", brand="Marshall",
    description="Works well. Pick up or courier.", currency="NZD", condition="used", gtin="036000291452",
    photos=("http://127.0.0.1:8900/_control/photos/amp-1.jpg", "http://127.0.0.1:8900/_control/photos/amp-2.jpg"),
)  # fmt: skip


def _tasks(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                text("SELECT entity_id, id FROM retail.ops_tasks WHERE kind = 'listing_adoption'")
            ).all()
        )


def _one(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).one()


def test_operator_answers_adopt_create_product_and_ignore(client, operator, viewer, engine, settings_env):
    products = seed_products(engine, settings_env.media_dir, categories=False)
    detect(engine, CHANNEL, [STRAT, STRAT_AGAIN, AMP])
    assert reconcile(engine, CHANNEL) == {"processed": 3, "failed": 0, "proposed": 2, "unmatched": 1}
    tasks = _tasks(engine)
    strat = products["RP-1002"]

    url = f"/api/adoptions/{tasks['E-2']}"
    assert client.post(f"{url}/adopt", headers=viewer, json={"product_id": strat}).status_code == 403
    adopted = client.post(f"{url}/adopt", headers=operator, json={"product_id": strat})
    assert adopted.status_code == 200, adopted.text
    body = adopted.json()
    assert body["action"] == "adopt" and body["product_id"] == strat
    row = _one(engine, "SELECT * FROM retail.channel_listings WHERE id = :id", id=body["listing_id"])
    assert (row.channel, row.product_id, row.external_listing_id, row.sku) == (
        CHANNEL,
        strat,
        "E-2",
        "RP-1002",
    )
    assert row.actual_price == row.desired_price == Decimal("1100.00")
    # the same click again: the same answer, nothing written; another answer: 409
    assert client.post(f"{url}/adopt", headers=operator, json={"product_id": strat}).json() == body
    assert client.post(f"{url}/ignore", headers=operator).status_code == 409
    other = client.post(f"{url}/adopt", headers=operator, json={"product_id": products["RP-1001"]})
    assert other.status_code == 409 and "answered (adopt to product" in other.json()["detail"]
    task = _one(
        engine, "SELECT status, resolved_by, details FROM retail.ops_tasks WHERE id = :id", id=tasks["E-2"]
    )
    assert task.status == "resolved" and task.resolved_by.startswith("api_key:")
    assert task.details["decision"] == {
        "action": "adopt",
        "product_id": strat,
        "listing_id": body["listing_id"],
    }

    # a second listing for the same product: refused, the task stays open for another answer
    spare = f"/api/adoptions/{tasks['E-5']}"
    refused = client.post(f"{spare}/adopt", headers=operator, json={"product_id": strat})
    assert refused.status_code == 409 and "already has listing E-2" in refused.json()["detail"]
    assert (
        _one(engine, "SELECT status FROM retail.ops_tasks WHERE id = :id", id=tasks["E-5"]).status == "open"
    )
    ignored = client.post(f"{spare}/ignore", headers=operator)
    assert (
        ignored.status_code == 200
        and client.post(f"{spare}/ignore", headers=operator).json() == ignored.json()
    )
    assert (
        _one(engine, "SELECT status FROM retail.ops_tasks WHERE id = :id", id=tasks["E-5"]).status
        == "dismissed"
    )

    made = client.post(f"/api/adoptions/{tasks['E-4']}/create-product", headers=operator)
    assert made.status_code == 200, made.text
    assert (
        client.post(f"/api/adoptions/{tasks['E-4']}/create-product", headers=operator).json() == made.json()
    )
    product = _one(
        engine,
        """SELECT p.sku, p.title, p.description, p.condition, p.stock_quantity, p.attributes, sp.images, sp.price,
                  sp.currency, sp.brand, sp.gtin, s.code, s.adapter, s.config
             FROM retail.products p JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
             JOIN retail.suppliers s ON s.id = sp.supplier_id WHERE p.id = :id""",
        id=made.json()["product_id"],
    )
    assert (product.sku, product.title, product.condition, product.stock_quantity) == (
        "SHOP-77", "Marshall MG15 practice amp", "used", 1)  # fmt: skip
    assert product.description == AMP.description and product.images == list(AMP.photos)
    assert (product.price, product.currency, product.brand, product.gtin) == (
        Decimal("149.00"),
        "NZD",
        "Marshall",
        AMP.gtin,
    )
    assert (product.code, product.adapter, product.config["enrich"]) == (
        f"listings_{CHANNEL}",
        "webhook",
        False,
    )
    listing = _one(
        engine, "SELECT * FROM retail.channel_listings WHERE id = :id", id=made.json()["listing_id"]
    )
    assert listing.external_listing_id == "E-4" and listing.product_id == made.json()["product_id"]

    # later syncs: adopted ones are ours, the ignored one is left alone, nothing new in the inbox
    detect(engine, CHANNEL, [STRAT, STRAT_AGAIN, AMP])
    assert reconcile(engine, CHANNEL) == {"processed": 1, "failed": 0, "ignored": 1}
    with engine.connect() as conn:
        assert (
            conn.scalar(
                text("SELECT count(*) FROM retail.channel_listings WHERE channel = :c"), {"c": CHANNEL}
            )
            == 2
        )
        assert conn.scalar(text("SELECT count(*) FROM retail.ops_tasks WHERE status = 'open'")) == 0
        actions = conn.scalars(
            text("SELECT action FROM retail.activity_log WHERE action LIKE 'listing_adoption.%' ORDER BY id")
        )
        assert list(actions) == [
            "listing_adoption.adopt",
            "listing_adoption.ignore",
            "listing_adoption.create_product",
        ]
    assert client.post("/api/adoptions/999999/ignore", headers=operator).status_code == 404
