"""``product_images`` materialised for a partition against the simulated OneCheq on loopback."""

from __future__ import annotations

import hashlib
import json

import dagster as dg
from sqlalchemy import text

from retail_pipeline.defs.catalog.images import product_images
from retail_pipeline.simulators import FaultConfig

from .seed import add_products, add_supplier


def _cdn_requests(sim) -> list[str]:
    """Photo requests as URLs relative to the site: path and query."""
    entries = sim.journal.entries("onecheq")
    return [e.path + (f"?{e.query}" if e.query else "") for e in entries if e.path.startswith("/cdn/")]


def _materialize(instance, db, code: str = "onecheq", *, raise_on_error: bool = True):
    return dg.materialize(
        [product_images],
        partition_key=code,
        instance=instance,
        resources={"db": db},
        raise_on_error=raise_on_error,
    )


def _metadata(result) -> dict:
    return {
        k: v.value for k, v in result.asset_materializations_for_node("product_images")[0].metadata.items()
    }


def _catalogue(sim, base_url: str, count: int) -> list[dict]:
    products = []
    for state in sim.backend("onecheq").snapshot().products[:count]:
        product = state.product
        photos = [
            f"{base_url}/onecheq/cdn/shop/files/{product.handle}_{n}.jpg"
            for n in range(1, product.image_count + 1)
        ]
        products.append({"sku": product.ref, "title": product.title, "images": photos})
    return products


def _links(engine, sku: str) -> list:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT i.source_url, i.position, i.error, a.rel_path, a.sha256 FROM retail.supplier_product_images i"
                " JOIN retail.supplier_products sp ON sp.id = i.supplier_product_id"
                " LEFT JOIN retail.media_assets a ON a.id = i.media_asset_id"
                " WHERE sp.sku = :sku ORDER BY i.position"
            ),
            {"sku": sku},
        ).all()


def test_images_are_stored_once_and_a_rerun_fetches_nothing_already_held(env, sim, engine, db, instance):
    supplier_id = add_supplier(engine, instance, "onecheq")
    products = _catalogue(sim, env.simulator_url, 5)
    first, second = products[0], products[1]
    missing = first["images"][0].replace("_1.jpg", "_9.jpg")  # beyond the product's photos: 404
    handle = first["images"][0].rsplit("/", 1)[1].rsplit("_", 1)[0]
    page = f"{env.simulator_url}/onecheq/products/{handle}"  # HTML, not an image
    same_bytes = first["images"][0] + "?v=2"  # the same photo under another URL
    first["images"] = [*first["images"], missing, page, same_bytes]
    second["images"] = [first["images"][0], *second["images"]]  # one photo listed by two products
    add_products(engine, supplier_id, products)

    result = _materialize(instance, db)
    meta = _metadata(result)
    wanted = sum(len(p["images"]) for p in products)
    distinct_urls = len({url for p in products for url in p["images"]})
    assert (meta["products"], meta["images_seen"], meta["fetched_urls"]) == (5, wanted, distinct_urls)
    assert (meta["failed"], meta["deduplicated"], meta["already_held"]) == (2, 1, 0)
    assert meta["downloaded"] == distinct_urls - 2 and meta["stored"] == distinct_urls - 3
    assert meta["failure_reasons"] == {
        "HTTP 404": 1,
        "not a usable image: not a JPEG, PNG, WebP or GIF image": 1,
    }
    assert meta["bytes"] > 0

    # Each URL was fetched once, even the one two products list.
    photo_urls = {url.split("/onecheq", 1)[1] for p in products for url in p["images"] if "/cdn/" in url}
    assert sorted(_cdn_requests(sim)) == sorted(photo_urls)

    # Files on disk under images/ab/cd/<sha256>.jpg, named by their content.
    with engine.connect() as conn:
        assets = conn.execute(
            text("SELECT sha256, rel_path, content_type, width, height FROM retail.media_assets")
        ).all()
    assert len(assets) == distinct_urls - 3
    for asset in assets:
        data = (env.media_dir / asset.rel_path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == asset.sha256
        assert asset.rel_path == f"images/{asset.sha256[:2]}/{asset.sha256[2:4]}/{asset.sha256}.jpg"
        assert (asset.content_type, asset.width, asset.height) == ("image/jpeg", 320, 240)

    links = _links(engine, first["sku"])
    assert [link.source_url for link in links] == first["images"]  # page order
    by_url = {link.source_url: link for link in links}
    assert by_url[missing].error == "HTTP 404" and by_url[missing].rel_path is None
    assert by_url[page].error.startswith("not a usable image")
    assert by_url[same_bytes].sha256 == by_url[first["images"][0]].sha256
    assert _links(engine, second["sku"])[0].sha256 == by_url[first["images"][0]].sha256

    # Re-run: only the two failures are tried again; nothing held is downloaded.
    sim.journal.clear()
    meta = _metadata(_materialize(instance, db))
    assert (meta["downloaded"], meta["failed"], meta["already_held"]) == (0, 2, wanted - 2)
    fetched = [e.path for e in sim.journal.entries("onecheq") if e.path != "/robots.txt"]
    assert sorted(fetched) == sorted(["/cdn/shop/files/" + missing.rsplit("/", 1)[1], f"/products/{handle}"])


def test_moved_and_dropped_images_are_relinked_without_downloading(env, sim, engine, db, instance):
    supplier_id = add_supplier(engine, instance, "onecheq")
    products = [p for p in _catalogue(sim, env.simulator_url, 10) if len(p["images"]) >= 2][:2]
    add_products(engine, supplier_id, products)
    _materialize(instance, db)

    reordered, trimmed = products
    reordered["images"] = list(reversed(reordered["images"]))
    dropped = trimmed["images"].pop()
    add_products(engine, supplier_id, products)
    sim.journal.clear()
    meta = _metadata(_materialize(instance, db))
    assert _cdn_requests(sim) == [] and meta["unlinked"] == 1
    assert [link.source_url for link in _links(engine, reordered["sku"])] == reordered["images"]
    assert dropped not in {link.source_url for link in _links(engine, trimmed["sku"])}


def test_a_url_held_for_another_supplier_is_linked_without_a_request(env, sim, engine, db, instance):
    onecheq = add_supplier(engine, instance, "onecheq")
    allegro = add_supplier(engine, instance, "allegro")
    product = _catalogue(sim, env.simulator_url, 1)[0]
    add_products(engine, onecheq, [product])
    _materialize(instance, db)
    add_products(engine, allegro, [{"sku": "A-1", "title": "Same photo", "images": product["images"][:1]}])
    sim.journal.clear()
    meta = _metadata(_materialize(instance, db, "allegro"))
    assert (meta["already_held"], meta["fetched_urls"], meta["http_requests"]) == (1, 0, 0)
    assert len(sim.journal) == 0
    assert _links(engine, "A-1")[0].sha256 == _links(engine, product["sku"])[0].sha256


def _fast_retries(engine, supplier_id: int, **policy) -> None:
    fetch = {"fetch": {"backoff_initial_seconds": 0.01, **policy}}
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE retail.suppliers SET config = CAST(:config AS jsonb) WHERE id = :id"),
            {"config": json.dumps(fetch), "id": supplier_id},
        )


def test_5xx_429_and_latency_are_absorbed_and_no_image_is_lost(env, sim, engine, db, instance):
    supplier_id = add_supplier(engine, instance, "onecheq")
    _fast_retries(engine, supplier_id, max_attempts=8)
    products = _catalogue(sim, env.simulator_url, 10)
    add_products(engine, supplier_id, products)
    faults = FaultConfig(error_rate=0.1, rate_limit_rate=0.1, retry_after_seconds=0, latency_ms=20)
    sim.faults.set("onecheq", faults)
    meta = _metadata(_materialize(instance, db))
    assert (meta["failed"], meta["downloaded"]) == (0, sum(len(p["images"]) for p in products))
    assert {"error", "rate_limit"} <= {e.fault for e in sim.journal.entries("onecheq")}


def test_an_image_host_outage_fails_the_run_after_recording_every_failure(env, sim, engine, db, instance):
    supplier_id = add_supplier(engine, instance, "onecheq")
    _fast_retries(engine, supplier_id, max_attempts=2)
    add_products(engine, supplier_id, _catalogue(sim, env.simulator_url, 3))
    sim.faults.set("onecheq", FaultConfig(error_rate=1.0))

    result = _materialize(instance, db, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "image host looks down" in failure.event_specific_data.error.message
    with engine.connect() as conn:
        errors = conn.scalars(text("SELECT DISTINCT error FROM retail.supplier_product_images")).all()
    assert errors and all(e.startswith("HTTP 50") and e.endswith("after 2 attempts") for e in errors)

    sim.faults.reset()  # the host is back: the next run stores everything
    assert _metadata(_materialize(instance, db))["failed"] == 0


def test_a_partition_without_a_supplier_row_fails_clearly(env, db, instance):
    instance.add_dynamic_partitions("supplier", ["unknown_supplier"])
    result = _materialize(instance, db, "unknown_supplier", raise_on_error=False)
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "has no row in retail.suppliers" in failure.event_specific_data.error.message


def test_images_land_in_the_object_store_and_media_serves_them(env, sim, engine, db, instance, s3_media):
    from fastapi.testclient import TestClient

    from retail_pipeline.api.app import create_app
    from retail_pipeline.media.links import media_url
    from retail_pipeline.settings import get_settings

    supplier_id = add_supplier(engine, instance, "onecheq")
    add_products(engine, supplier_id, _catalogue(sim, env.simulator_url, 1))
    assert _metadata(_materialize(instance, db))["stored"] > 0
    with engine.connect() as conn:
        assets = conn.execute(text("SELECT sha256, rel_path FROM retail.media_assets")).all()
    for asset in assets:  # in the bucket under the prefix, not on this machine's disk
        assert hashlib.sha256(s3_media.read(asset.rel_path)).hexdigest() == asset.sha256
        assert s3_media.client.head_object(Bucket=s3_media.bucket, Key=f"shop/{asset.rel_path}")
    assert not (env.media_dir / "images").exists()
    settings = get_settings()
    with TestClient(create_app(settings)) as client:
        served = client.get(media_url(assets[0].rel_path, settings=settings))
    assert served.status_code == 200 and hashlib.sha256(served.content).hexdigest() == assets[0].sha256
