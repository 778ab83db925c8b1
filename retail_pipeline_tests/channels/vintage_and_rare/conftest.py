"""Vintage & Rare fixtures: the simulated dealer site on loopback and ONE Chromium for the package's
modules, with one saved session (clients connect to it over CDP, each with its own context: a browser's
objects belong to one event loop, and every asset run has its own), drafts and seeded listings. Tests
share the site: each names its own references and counts its own items."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from retail_pipeline.channels.vintage_and_rare import (
    SIMULATOR_EMAIL,
    SIMULATOR_PASSWORD,
    VintageAndRareClient,
    VintageAndRareSettings,
)
from retail_pipeline.integrations.marketplaces.base import ListingDraft, Photo
from retail_pipeline_tests.seeds.listed_products import jpeg

CHROMIUM = "/usr/bin/chromium"
CATEGORY = "Guitars > Electric Guitars"


@pytest.fixture(scope="package")
def vr_app():
    from retail_pipeline.simulators import SimulatorConfig, build_simulator_app

    return build_simulator_app(SimulatorConfig(seed=7, products_per_supplier=4))


@pytest.fixture(scope="package")
def vr_base(vr_app) -> Iterator[str]:
    from retail_pipeline.simulators.serving import serve_in_thread

    with serve_in_thread(vr_app) as base_url:
        yield f"{base_url}/vintage_and_rare"


@pytest.fixture(scope="package")
def cdp_url() -> Iterator[str]:
    """One headless Chromium for the package, reached over CDP."""
    profile = tempfile.mkdtemp(prefix="vr-chromium-")
    process = subprocess.Popen(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-background-networking",
         "--disable-component-update", "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        for line in process.stderr:
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                yield found.group(1)
                break
        else:
            raise RuntimeError("chromium did not start its DevTools endpoint")
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def site(vr_base) -> Iterator[httpx.Client]:
    """The site's control API; every test starts from layout a, no challenge, sessions valid."""
    with httpx.Client(base_url=vr_base) as control:
        control.put(
            "/_control/site", json={"layout": "a", "challenge": False, "expire_sessions": False, "slow_ms": 0}
        )
        yield control


@pytest.fixture
def vr_backend(vr_app):
    from retail_pipeline.simulators import get_simulator

    return get_simulator(vr_app).backend("vintage_and_rare")


@pytest.fixture(scope="package")
def session_file(tmp_path_factory) -> Path:
    """One saved session for the package, as in production: a client signs in only when it has expired."""
    return tmp_path_factory.mktemp("vr") / "session.json"


@pytest.fixture
def vr_settings(vr_base, cdp_url, session_file) -> VintageAndRareSettings:
    return VintageAndRareSettings(
        _env_file=None, base_url=vr_base, email=SIMULATOR_EMAIL, password=SIMULATOR_PASSWORD, cdp_url=cdp_url,
        storage_state=session_file, timeout_seconds=8,
    )  # fmt: skip


def client(settings: VintageAndRareSettings) -> VintageAndRareClient:
    return VintageAndRareClient(settings)


def photos(media_dir: Path, count: int, tag: str) -> tuple[Photo, ...]:
    made = []
    for n in range(count):
        rel = f"test/vr-{tag}-{n}.jpg"
        (media_dir / "test").mkdir(parents=True, exist_ok=True)
        (media_dir / rel).write_bytes(jpeg((30 * n, 90, 160)))
        made.append(Photo(rel, f"{tag}{n}", "image/jpeg"))
    return tuple(made)


def draft(sku: str, media_dir: Path | None = None, *, photo_count: int = 0, **overrides: Any) -> ListingDraft:
    values: dict[str, Any] = {
        "sku": sku, "title": "Fender Stratocaster 1965", "description": "Original finish, plays well.",
        "price": Decimal("12500.00"), "currency": "GBP", "quantity": 1, "condition": "used", "brand": "Fender",
        "mpn": "Stratocaster", "fields": {"category": CATEGORY, "year": 1965, "condition": "Very good"},
        "photos": photos(media_dir, photo_count, sku) if media_dir and photo_count else (),
    }  # fmt: skip
    return ListingDraft(**(values | overrides))


def seed_vr_draft(engine: Engine, product_id: int, sku: str, media_dir: Path) -> int:
    """A valid V&R draft for a seeded product (as `listing_drafts` leaves one), one photo."""
    import json

    photo = photos(media_dir, 1, sku)[0]
    payload = {
        "description": "Original finish, plays well.", "condition": "used", "brand": "Fender", "mpn": "Stratocaster",
        "photos": [{"rel_path": photo.path, "sha256": photo.sha256, "content_type": photo.content_type}],
        "fields": {"category": CATEGORY, "brand": "Fender", "model": "Stratocaster", "condition": "Good"},
    }  # fmt: skip
    with engine.begin() as conn:
        return conn.scalar(
            text(
                """INSERT INTO retail.listing_drafts (product_id, channel, sku, title, price, currency, quantity,
                                                      payload, status)
                   VALUES (:p, 'vintage_and_rare', :sku, 'Fender Stratocaster', 1500, 'GBP', 1,
                           CAST(:payload AS jsonb), 'valid') RETURNING id"""
            ),
            {"p": product_id, "sku": sku, "payload": json.dumps(payload)},
        )
