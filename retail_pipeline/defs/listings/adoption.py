"""Remote listings we did not make: applying an `unknown_listing` sync event, and the operator's answer.

A shop that already sells on a channel starts from what is there. Each unknown remote listing is
matched to the catalogue (`domain/adoption.py`: our SKU, then GTIN, then brand + model + title):

- an exact match is ADOPTED: a `channel_listings` row for (channel, product) with the remote id, URL,
  remote ids, and the remote price, quantity and state as both actual and desired values, so nothing
  changes on the channel at adoption; later passes manage it like any listing;
- a product that already has a listing on the channel never gets a second: the remote listing is
  proposed instead (a duplicate);
- otherwise one `listing_adoption` ops task per (channel, remote listing) offers the candidates (adopt
  one), creating a product from the listing, or ignoring it. A dismissed (ignored) task is the record
  that the listing is not ours: later syncs leave it alone.

The operator's three answers (`adopt`, `create_product`, `ignore`) live here too, each idempotent: the
same answer twice returns the first result; a different answer to a closed task is a conflict.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from retail_pipeline.catalog_writes.upsert import ProductRecord, upsert_supplier_products
from retail_pipeline.channels.registry import channel as channel_plugin
from retail_pipeline.db.activity import log_activity
from retail_pipeline.db.ops_tasks import open_task, resolve_task, set_task_status
from retail_pipeline.domain.adoption import CatalogueIndex, CatalogueProduct, ListingFacts, Match

KIND = "listing_adoption"
MAX_SKU = 50  # channel_listings.sku / products.sku
IMPORT_PROMPT_VERSION = "listing-import"  # products.prompt_version of a product made from a listing

CATALOGUE = text(
    """
    SELECT p.id, p.sku, p.title, coalesce(sp.brand, p.attributes ->> 'brand') AS brand, sp.gtin,
           coalesce(sp.mpn, p.attributes ->> 'mpn') AS mpn
      FROM retail.products p JOIN retail.supplier_products sp ON sp.id = p.supplier_product_id
    """
)
LISTING_OF_PRODUCT = text(
    "SELECT id, external_listing_id FROM retail.channel_listings WHERE channel = :c AND product_id = :p FOR UPDATE"
)
ADOPT_INTO_INTENT = text(
    """
    UPDATE retail.channel_listings
       SET external_listing_id = :ext, remote_ids = CAST(:remote_ids AS jsonb), listing_url = :url,
           currency = :currency, desired_price = :price, actual_price = :price,
           desired_quantity = :quantity, actual_quantity = :quantity, desired_state = :desired_state,
           actual_state = :state, last_error = NULL, last_synced_at = now(), updated_at = now()
     WHERE id = :id
    """
)
INSERT_ADOPTED = text(
    """
    INSERT INTO retail.channel_listings
           (channel, sku, product_id, external_listing_id, remote_ids, listing_url, currency, desired_price,
            actual_price, desired_quantity, actual_quantity, desired_state, actual_state, last_synced_at)
    VALUES (:c, :sku, :p, :ext, CAST(:remote_ids AS jsonb), :url, :currency, :price, :price, :quantity,
            :quantity, :desired_state, :state, now())
    ON CONFLICT DO NOTHING
    RETURNING id
    """
)
HOLDER_OF = text(
    "SELECT product_id, sku, external_listing_id FROM retail.channel_listings WHERE channel = :c AND (sku = :sku OR external_listing_id = :ext)"
)


class AdoptionConflict(Exception):
    """The operator's answer cannot be carried out (a 409): the message says why."""


class TaskNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Adopted:
    listing_id: int | None  # None: not adopted, `conflict` says why
    conflict: str | None = None


def task_key(channel: str, external_id: str) -> str:
    return f"{KIND}:{channel}:{external_id}"


def load_catalogue(conn: Connection) -> CatalogueIndex:
    """The whole catalogue, indexed for matching."""
    return CatalogueIndex.build(
        CatalogueProduct(r.id, r.sku, r.title, r.brand, r.gtin, r.mpn) for r in conn.execute(CATALOGUE)
    )


@dataclass
class Known:
    """What applying many unknown listings of a channel reads once per reconciliation, not per listing:
    the catalogue's index, the listings an operator ignored, the listings with an unresolved task."""

    catalogue: CatalogueIndex
    ignored: set[str]
    unresolved: set[str]


def known(conn: Connection, channel: str) -> Known:
    keys = conn.execute(
        text(
            """SELECT dedupe_key, status FROM retail.ops_tasks
                WHERE kind = :kind AND dedupe_key LIKE :prefix AND status IN ('open', 'acknowledged', 'dismissed')"""
        ),
        {"kind": KIND, "prefix": task_key(channel, "%")},
    ).all()
    return Known(
        load_catalogue(conn),
        ignored={k for k, status in keys if status == "dismissed"},
        unresolved={k for k, status in keys if status != "dismissed"},
    )


def facts(remote: dict[str, Any]) -> ListingFacts:
    return ListingFacts(
        sku=remote.get("sku"), gtin=remote.get("gtin"), brand=remote.get("brand"), mpn=remote.get("mpn"),
        title=remote.get("title"),
    )  # fmt: skip


def apply_unknown_listing(
    conn: Connection, channel: str, event: Any, run_id: str | None, context: Known | None = None
) -> str:
    """Apply one pending `unknown_listing` event in the caller's transaction; returns what was done:
    adopted | proposed | unmatched | ignored. Pass `context` (`known`) when applying many."""
    context = context or known(conn, channel)
    remote = dict(event.remote_value or {})
    key = task_key(channel, event.external_listing_id)
    if key in context.ignored:
        return "ignored"  # an operator said this listing is not ours to manage
    match = context.catalogue.match(facts(remote))
    if match.kind == "exact":
        assert match.product_id is not None
        product = context.catalogue.products[match.product_id]
        adopted = adopt_listing(
            conn,
            channel,
            remote,
            match.product_id,
            reason=match.reason,
            run_id=run_id,
            product_sku=product.sku,
        )
        if adopted.listing_id is not None:
            if key in context.unresolved:
                resolve_task(conn, kind=KIND, key=key, by=f"run:{run_id}" if run_id else "system")
            return "adopted"
        match = Match("likely", None, adopted.conflict or match.reason, match.candidates)
    propose(conn, channel, remote, match, run_id, context.catalogue)
    context.unresolved.add(key)
    return "proposed" if match.candidates else "unmatched"


def adopt_listing(
    conn: Connection,
    channel: str,
    remote: dict[str, Any],
    product_id: int,
    *,
    reason: str,
    run_id: str | None = None,
    actor: str | None = None,
    product_sku: str | None = None,
) -> Adopted:
    """Link the remote listing to the product as its listing on the channel (or say why not). Its
    remote price, quantity and state become actual AND desired: adoption changes nothing remotely."""
    ext = str(remote["external_id"])
    existing = conn.execute(LISTING_OF_PRODUCT, {"c": channel, "p": product_id}).first()
    if existing is not None and existing.external_listing_id == ext:
        return Adopted(existing.id)  # already adopted: nothing to do
    if existing is not None and existing.external_listing_id is not None:
        return Adopted(None, f"product {product_id} already has listing {existing.external_listing_id} on "
                             f"{channel}: this one would be a second (a duplicate?)")  # fmt: skip
    if remote.get("price") is None:
        return Adopted(None, f"{channel} shows no price for listing {ext}")
    product_sku = product_sku or conn.scalar(
        text("SELECT sku FROM retail.products WHERE id = :p"), {"p": product_id}
    )
    if product_sku is None:
        return Adopted(None, f"no product {product_id}")
    remote_sku = (remote.get("sku") or "").strip()
    sku = remote_sku if 0 < len(remote_sku) <= MAX_SKU else product_sku
    state = remote.get("state") or "live"
    params = {
        "c": channel, "p": product_id, "sku": sku, "ext": ext, "url": remote.get("url"),
        "remote_ids": _json(remote.get("remote_ids") or {}),
        "currency": remote.get("currency") or channel_plugin(channel).listing.currency,
        "price": Decimal(str(remote["price"])),
        # a channel that does not say how many: one, as a new listing would be
        "quantity": 1 if remote.get("quantity") is None else int(remote["quantity"]),
        "state": state, "desired_state": "live" if state == "live" else "withdrawn",
    }  # fmt: skip
    if existing is not None:  # our intent to list it, never created (or created and not yet recorded)
        conn.execute(ADOPT_INTO_INTENT, params | {"id": existing.id})
        listing_id = existing.id
    else:
        listing_id = conn.execute(INSERT_ADOPTED, params).scalar()
    if listing_id is None:
        holder = conn.execute(HOLDER_OF, {"c": channel, "sku": sku, "ext": ext}).first()
        return Adopted(None, f"{channel} listing {ext} (SKU {sku}) clashes with the listing of product "
                             f"{holder.product_id if holder else '?'}")  # fmt: skip
    log_activity(
        conn, action="listing.adopt", outcome="succeeded", actor=actor, run_id=run_id, channel=channel,
        entity_type="channel_listing", entity_id=listing_id,
        details={"external_listing_id": ext, "product_id": product_id, "sku": sku, "reason": reason},
    )  # fmt: skip
    return Adopted(listing_id)


def propose(
    conn: Connection,
    channel: str,
    remote: dict[str, Any],
    match: Match,
    run_id: str | None,
    catalogue: CatalogueIndex,
) -> None:
    """One `listing_adoption` task for the listing (bumped, with the latest candidates, when seen again)."""
    ext = str(remote["external_id"])
    candidates = [
        {"product_id": c.product_id, "sku": catalogue.products[c.product_id].sku,
         "title": catalogue.products[c.product_id].title, "score": c.score, "why": c.why}
        for c in match.candidates
    ]  # fmt: skip
    name = f"{channel} listing {ext} ({remote.get('sku') or 'no SKU'}) “{remote.get('title') or ''}”"
    title = f"{name} may be product {candidates[0]['sku']}" if candidates else f"{name} matches no product"
    open_task(
        conn, kind=KIND, key=task_key(channel, ext), severity="warning" if candidates else "info", title=title,
        details={"remote": remote, "match": match.kind, "reason": match.reason, "candidates": candidates,
                 "actions": ["adopt", "create_product", "ignore"] if candidates else ["create_product", "ignore"]},
        channel=channel, entity_type="remote_listing", entity_id=ext, run_id=run_id,
    )  # fmt: skip


# --- the operator's answers -------------------------------------------------------------------------


def _task(conn: Connection, task_id: int) -> Any:
    row = conn.execute(
        text("SELECT * FROM retail.ops_tasks WHERE id = :id AND kind = :kind FOR UPDATE"), {"id": task_id, "kind": KIND}
    ).first()  # fmt: skip
    if row is None:
        raise TaskNotFound(f"no {KIND} task with id {task_id}")
    return row


def _decided(task: Any, action: str, product_id: int | None = None) -> dict[str, Any] | None:
    """The earlier decision when the task is closed: the same answer again returns it, another is a
    conflict."""
    if task.status in ("open", "acknowledged"):
        return None
    decision = (task.details or {}).get("decision") or {}
    same = decision.get("action") == action and (
        product_id is None or decision.get("product_id") == product_id
    )
    if not same:
        raise AdoptionConflict(
            f"task {task.id} was already answered ({decision.get('action') or task.status}"
            f"{' to product ' + str(decision['product_id']) if decision.get('product_id') else ''}); "
            f"it cannot be answered with {action} now"
        )
    return decision


def _close(conn: Connection, task: Any, decision: dict[str, Any], status: str, actor: str) -> dict[str, Any]:
    conn.execute(
        text("UPDATE retail.ops_tasks SET details = details || jsonb_build_object('decision', CAST(:d AS jsonb)) WHERE id = :id"),
        {"d": _json(decision), "id": task.id},
    )  # fmt: skip
    set_task_status(conn, task.id, status, by=actor)
    log_activity(
        conn, action=f"listing_adoption.{decision['action']}", outcome="succeeded", actor=actor,
        channel=task.channel, entity_type="ops_task", entity_id=task.id, details=decision,
    )  # fmt: skip
    return decision


def adopt(conn: Connection, task_id: int, product_id: int, actor: str) -> dict[str, Any]:
    """The operator picked the product the remote listing is: adopt it (resolves the task)."""
    task = _task(conn, task_id)
    if (earlier := _decided(task, "adopt", product_id)) is not None:
        return earlier
    remote = task.details["remote"]
    sku_owner = conn.scalar(
        text("SELECT id FROM retail.products WHERE sku = :s AND id <> :p"), {"s": remote.get("sku") or "", "p": product_id}
    )  # fmt: skip
    if sku_owner is not None:
        raise AdoptionConflict(
            f"the listing carries the SKU of product {sku_owner}, not of product {product_id}"
        )
    adopted = adopt_listing(conn, task.channel, remote, product_id, reason=f"chosen by {actor}", actor=actor)
    if adopted.listing_id is None:
        raise AdoptionConflict(adopted.conflict or "not adopted")
    decision = {"action": "adopt", "product_id": product_id, "listing_id": adopted.listing_id}
    return _close(conn, task, decision, "resolved", actor)


def ignore(conn: Connection, task_id: int, actor: str) -> dict[str, Any]:
    """Not ours to manage: the task is dismissed, and later syncs leave the listing alone."""
    task = _task(conn, task_id)
    if (earlier := _decided(task, "ignore")) is not None:
        return earlier
    return _close(conn, task, {"action": "ignore"}, "dismissed", actor)


def create_product(conn: Connection, task_id: int, actor: str) -> dict[str, Any]:
    """Import the remote listing as a catalogue product (supplier `listings_<channel>`), then adopt the
    listing to it (resolves the task). Its photos are downloaded by `product_images` like any supplier's."""
    task = _task(conn, task_id)
    if (earlier := _decided(task, "create_product")) is not None:
        return earlier
    channel, remote = task.channel, task.details["remote"]
    product_id = import_product(conn, channel, remote)
    adopted = adopt_listing(conn, channel, remote, product_id, reason=f"imported by {actor}", actor=actor)
    if adopted.listing_id is None:
        raise AdoptionConflict(adopted.conflict or "not adopted")
    decision = {"action": "create_product", "product_id": product_id, "listing_id": adopted.listing_id}
    return _close(conn, task, decision, "resolved", actor)


def listing_supplier(conn: Connection, channel: str) -> int:
    """The supplier row products imported from a channel's listings belong to (made on first use). Push
    only (never scraped) and not enriched: they keep the content they were sold with."""
    return conn.execute(
        text(
            """
            INSERT INTO retail.suppliers (code, name, adapter, config)
            VALUES (:code, :name, 'webhook', '{"enrich": false, "source": "channel_listings"}')
            ON CONFLICT (code) DO UPDATE SET code = EXCLUDED.code
            RETURNING id
            """
        ),
        {"code": f"listings_{channel}", "name": f"Listings already on {channel}"},
    ).scalar_one()


def import_product(conn: Connection, channel: str, remote: dict[str, Any]) -> int:
    """A catalogue product from the listing's title, description, photos, price, identifiers and
    condition; the same listing imported twice is the same product."""
    ext = str(remote["external_id"])
    remote_sku = (remote.get("sku") or "").strip()
    taken = remote_sku and conn.scalar(
        text("SELECT 1 FROM retail.products WHERE sku = :s"), {"s": remote_sku}
    )
    sku = remote_sku if remote_sku and len(remote_sku) <= MAX_SKU and not taken else _sku_for(channel, ext)
    supplier_id = listing_supplier(conn, channel)
    condition = (
        remote.get("condition") if remote.get("condition") in ("new", "used", "refurbished") else "unknown"
    )
    price = remote.get("price")
    record = ProductRecord(
        sku=sku, url=remote.get("url"), title=remote.get("title"), description=remote.get("description"),
        brand=remote.get("brand"), gtin=remote.get("gtin"), mpn=remote.get("mpn"),
        images=tuple(remote.get("photos") or ()),
        price=None if price is None else Decimal(str(price)),
        currency=(remote.get("currency") or channel_plugin(channel).listing.currency) if price is not None else None,
        stock_quantity=remote.get("quantity"), availability="in_stock" if (remote.get("quantity") or 1) > 0 else "out_of_stock",
        condition=condition, raw={"channel": channel, "external_id": ext},
    )  # fmt: skip
    upsert_supplier_products(conn, supplier_id, [record])
    supplier_product_id = conn.scalar(
        text("SELECT id FROM retail.supplier_products WHERE supplier_id = :s AND sku = :sku"),
        {"s": supplier_id, "sku": sku},
    )
    attributes = {k: remote[k] for k in ("brand", "gtin", "mpn") if remote.get(k)}
    return conn.execute(
        text(
            """
            INSERT INTO retail.products (supplier_product_id, sku, enricher, prompt_version, input_hash, title,
                                         description, condition, attributes, stock_quantity)
            VALUES (:sp, :sku, 'offline', :version, :hash, :title, :description, :condition,
                    CAST(:attributes AS jsonb), :quantity)
            ON CONFLICT (supplier_product_id) DO UPDATE SET sku = retail.products.sku
            RETURNING id
            """
        ),
        {"sp": supplier_product_id, "sku": sku, "version": IMPORT_PROMPT_VERSION, "hash": record.content_hash(),
         "title": (remote.get("title") or sku)[:80], "description": remote.get("description"),
         "condition": condition, "attributes": _json(attributes), "quantity": remote.get("quantity")},
    ).scalar_one()  # fmt: skip


def _sku_for(channel: str, external_id: str) -> str:
    sku = f"{channel}-{external_id}"
    return sku if len(sku) <= MAX_SKU else f"{channel[:10]}-{hashlib.sha256(sku.encode()).hexdigest()[:32]}"


def _json(value: Any) -> str:
    return json.dumps(value, default=str)
