"""Web plumbing every simulated supplier storefront shares: links under the mount prefix,
conditional GETs, robots.txt, the HTML shell, 404 pages, paging, photos and schema.org Product."""

from __future__ import annotations

import hashlib
import html
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from fastapi import FastAPI, HTTPException, Request, Response

from .catalogue import CatalogueSnapshot, ProductState, SupplierCatalogue, SupplierProfile, price_string
from .images import product_photo

if TYPE_CHECKING:
    from .app import Simulator

T = TypeVar("T")
escape = html.escape

HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"
XML = "application/xml; charset=utf-8"
TEXT = "text/plain; charset=utf-8"


# --- the stateful side


class StorefrontBackend:
    """A supplier's catalogue on the shared simulated clock; storefronts add their own queries."""

    profile: ClassVar[SupplierProfile]

    def __init__(self, sim: Simulator):
        self.clock = sim.clock
        self.opened = sim.config.start_time  # when the site's static pages last changed
        self.catalogue = SupplierCatalogue(
            self.profile,
            seed=sim.config.seed,
            size=sim.config.products_per_supplier,
            start=sim.config.start_time,
        )

    def snapshot(self) -> CatalogueSnapshot:
        return self.catalogue.snapshot(self.clock.now())


def storefront_app(backend: StorefrontBackend, not_found_page: Callable[[Request], Response]) -> FastAPI:
    """A bare site: no /docs or /openapi.json (real shops have none), the site's own 404 page."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.backend = backend

    async def handler(request: Request, exc: Exception) -> Response:
        return not_found_page(request)

    # Unknown routes and unknown products alike get the site's 404 page.
    app.add_exception_handler(404, handler)
    return app


# --- URLs: a storefront mounted at /noelleeming links to /noelleeming/p/..., as if it were the site root


def site_path(request: Request, path: str) -> str:
    """Root-relative link, as sites write them in HTML."""
    return f"{request.scope.get('root_path', '')}{path}"


def site_url(request: Request, path: str) -> str:
    """Absolute URL, as sitemaps, JSON APIs and JSON-LD carry them."""
    return f"{request.url.scheme}://{request.url.netloc}{site_path(request, path)}"


# --- conditional GET


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def conditional_response(
    request: Request,
    body: str | bytes,
    media_type: str,
    last_modified: datetime,
    *,
    headers: dict[str, str] | None = None,
) -> Response:
    """The response with ETag and Last-Modified, or a bodiless 304 when the client's copy is current."""
    data = body.encode() if isinstance(body, str) else body
    validators = {"ETag": f'"{hashlib.sha1(data).hexdigest()}"', "Last-Modified": http_date(last_modified)}
    if _client_copy_is_current(request, validators["ETag"], last_modified):
        return Response(status_code=304, headers=validators)
    return Response(data, media_type=media_type, headers={**validators, **(headers or {})})


def _client_copy_is_current(request: Request, etag: str, last_modified: datetime) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:  # RFC 9110 §13.1.3: If-None-Match wins; If-Modified-Since is ignored
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False  # an unparsable date is ignored, as RFC 9110 requires
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return last_modified.replace(microsecond=0) <= since


# --- query parameters and paging


def query_int(request: Request, name: str, default: int, *, maximum: int | None = None) -> int:
    """A positive integer parameter; junk falls back to the default, as storefronts are lenient."""
    try:
        value = int(request.query_params.get(name, default))
    except ValueError:
        value = default
    value = max(1, value)
    return min(value, maximum) if maximum else value


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    number: int
    per_page: int
    count: int  # pages in total (at least 1)
    total: int  # items in total

    @property
    def has_next(self) -> bool:
        return self.number < self.count


def paginate(items: Sequence[T], number: int, per_page: int) -> Page[T]:
    start = (number - 1) * per_page
    count = max(1, math.ceil(len(items) / per_page))
    return Page(items[start : start + per_page], number, per_page, count, len(items))


# --- HTML


@dataclass(frozen=True)
class Site:
    name: str
    nav: tuple[tuple[str, str], ...]  # (label, path under the site root)
    footer: str


def html_page(request: Request, site: Site, title: str, main: str, *, head: str = "") -> str:
    nav = "".join(
        f'<li><a href="{escape(site_path(request, path))}">{escape(label)}</a></li>'
        for label, path in site.nav
    )
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en-NZ">\n<head>\n<meta charset="utf-8">\n<title>{escape(title)} | {escape(site.name)}</title>\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"{head}</head>\n<body>\n"
        f'<header class="site-header"><a class="site-logo" href="{escape(site_path(request, "/"))}">{escape(site.name)}</a>'
        f'<nav><ul class="site-nav">{nav}</ul></nav></header>\n'
        f"<main>\n{main}\n</main>\n"
        f'<footer class="site-footer"><p>{escape(site.footer)}</p></footer>\n</body>\n</html>\n'
    )


def json_ld(data: Any) -> str:
    """A JSON-LD script block; '</' is escaped so a description can never close the script early."""
    text = json.dumps(data, ensure_ascii=False, indent=2).replace("</", "<\\/")
    return f'<script type="application/ld+json">\n{text}\n</script>\n'


def not_found() -> HTTPException:
    return HTTPException(status_code=404)


# --- robots.txt


def robots_txt(
    request: Request,
    last_modified: datetime,
    *,
    disallow: Sequence[str],
    crawl_delay: int = 0,
    sitemap: str | None = None,
    preamble: str = "",
) -> Response:
    lines = [preamble] if preamble else []
    lines.append("User-agent: *")
    lines += [f"Disallow: {site_path(request, path)}" for path in disallow]
    if crawl_delay:
        lines.append(f"Crawl-delay: {crawl_delay}")
    if sitemap:
        lines += ["", f"Sitemap: {site_url(request, sitemap)}"]
    return conditional_response(request, "\n".join(lines) + "\n", TEXT, last_modified)


# --- product photos and schema.org


def photo_response(request: Request, state: ProductState | None, number: int) -> Response:
    if state is None or not 1 <= number <= state.product.image_count:
        raise not_found()
    return conditional_response(
        request,
        product_photo(state.product, number),
        "image/jpeg",
        state.product.created_at,
        headers={"Cache-Control": "public, max-age=31536000"},
    )


_ITEM_CONDITION = {"New": "NewCondition", "Refurbished": "RefurbishedCondition"}  # else UsedCondition


def schema_product(
    state: ProductState, *, url: str, images: Sequence[str], price_as_number: bool = False
) -> dict[str, Any]:
    """A schema.org Product as shops embed it: one Offer per variant (a single Offer when only one)."""
    product = state.product
    first = product.variants[0]
    condition = _ITEM_CONDITION.get(product.condition, "UsedCondition")
    offers = [
        {
            "@type": "Offer",
            "sku": v.variant.sku,
            "price": v.price_cents / 100 if price_as_number else price_string(v.price_cents),
            "priceCurrency": "NZD",
            "availability": f"https://schema.org/{'InStock' if v.available else 'OutOfStock'}",
            "itemCondition": f"https://schema.org/{condition}",
            "url": url,
        }
        for v in state.variants
    ]
    data: dict[str, Any] = {
        "@type": "Product",
        "name": product.title,
        "description": product.description,
        "sku": first.sku,
        "mpn": first.mpn,
        "brand": {"@type": "Brand", "name": product.brand},
        "category": product.category.name,
        "image": list(images),
        "url": url,
        "offers": offers[0] if len(offers) == 1 else offers,
    }
    if first.gtin:
        data["gtin13"] = first.gtin
    # Shipping weight as shops' SEO markup states it: a QuantitativeValue with a UN/CEFACT unit code.
    data["weight"] = {"@type": "QuantitativeValue", "value": first.grams / 1000, "unitCode": "KGM"}
    return data
