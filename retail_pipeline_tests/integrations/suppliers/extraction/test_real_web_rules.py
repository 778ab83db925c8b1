"""The general rules for the error classes seen on real shops (issue 13): each on the smallest page
that shows it, with the neighbouring case that must stay as it was."""

import json
from decimal import Decimal

import pytest

from retail_pipeline.integrations.suppliers.extraction.extract import extract_product

URL = "https://shop.example.com/p/widget-pro"


def page(body: str, jsonld: dict | None = None, buy: bool = True) -> str:
    head = f'<script type="application/ld+json">{json.dumps(jsonld)}</script>' if jsonld else ""
    button = "<button class='add-to-cart'>Add to cart</button>" if buy else ""
    return f"<html><head><title>Widget Pro</title>{head}</head><body><h1>Widget Pro</h1>{body}{button}</body></html>"


IN_STOCK_MARKUP = {
    "@context": "https://schema.org",
    "@type": "Product",
    "name": "Widget Pro",
    "offers": {"price": "5.00", "priceCurrency": "USD", "availability": "https://schema.org/InStock"},
}
FILLER = "".join(f"<p>Spec line {i}</p>" for i in range(80))


# --- availability: trust the buy box and the markup unless this item itself is said to be sold out --


@pytest.mark.parametrize(
    "body",
    [
        # another seller's offer
        '<div class="other-sellers"><p>Seller B</p><span class="stock">Out of stock</span></div>',
        # a related product
        '<ul class="related-products"><li><span class="badge">Sold out</span></li></ul>',
        # boilerplate stating a condition
        '<p class="stock-note">If no price is shown, the item is out of stock</p>',
        # far below the product block
        FILLER + '<span class="availability">Sold out</span>',
        # a script
        '<script>var labels = {"oos": "Out of stock"};</script>',
        # a bare count (reviews) with no stock label
        '<div class="rating-summary"><span>0</span></div>',
        # another variant's swatch
        '<div class="color-swatch"><span class="stock">Sold out</span></div>',
    ],
    ids=["other-seller", "related", "boilerplate", "far-away", "script", "bare-zero", "variant-swatch"],
)
def test_sold_out_words_about_something_else_leave_markup_in_stock(body):
    html = page('<span class="price">$5.00</span>' + body, IN_STOCK_MARKUP, buy=False)
    assert extract_product(html, URL).availability == "in_stock"


@pytest.mark.parametrize(
    "stock",
    ["Sold out", "Out of stock - email me when it is back", "Se agotó", "Leider ausverkauft"],
)
def test_sold_out_by_the_heading_without_buy_button_overrides_stale_markup(stock):
    html = page(f'<span class="price">$5.00</span><p class="stock">{stock}</p>', IN_STOCK_MARKUP, buy=False)
    assert extract_product(html, URL).availability == "out_of_stock"


# --- prices -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "price"),
    [
        ('<div class="price">249<sup>99</sup> €</div>', "249.99"),  # cents as a superscript
        ('<div class="price">$1,249<sup>.99</sup></div>', "1249.99"),
        ('<div class="price" data-price="24999">249,99 €</div>', "249.99"),  # attribute in minor units
        ('<div class="price" data-price="249.99">249,99 €</div>', "249.99"),
        ('<div class="price"><del>1 299 Kč</del> 1 099 Kč</div>', "1099"),  # struck part left out
        ('<div class="price">€2,60/kg</div><div class="price">€12,99</div>', "12.99"),  # unit price
        ('<span class="price">€2,60</span> / 100 g<div class="price">€12,99</div>', "12.99"),
        ('<div class="price">12,99 € je Stück</div>', "12.99"),  # "per piece" is the item's price
        # India's maximum retail price is the list price, not what is paid
        (
            '<span class="price">₹649</span><span>M.R.P.: <span class="basisprice-value">₹6,999</span></span>',
            "649",
        ),
        # a strike flag in a data attribute (Amazon), and the same flag when false
        ('<span class="a-price" data-a-strike="true">$70</span><span class="a-price">$50</span>', "50"),
        ('<span class="a-price" data-a-strike="false">$70</span>', "70"),
    ],
)
def test_visible_price(body, price):
    assert extract_product(page(body), URL).price == Decimal(price)


@pytest.mark.parametrize(
    ("standard", "price", "regular"),
    [("150.00", "120.00", "150.00"), (None, "150.00", None)],
    ids=["regular-named-by-og", "og-alone-does-not-override"],
)
def test_markup_regular_price_yields_to_a_sale_price_another_layer_names(standard, price, regular):
    """JSON-LD 150.00 while the OpenGraph tags say 120.00 now and 150.00 as the standard price."""
    tags = '<meta property="product:price:amount" content="120.00">'
    if standard:
        tags += f'<meta property="og:price:standard_amount" content="{standard}">'
    markup = {**IN_STOCK_MARKUP, "offers": {"price": "150.00", "priceCurrency": "USD"}}
    html = page("", markup).replace("</head>", tags + "</head>")
    product = extract_product(html, URL)
    assert (product.price, product.regular_price) == (
        Decimal(price),
        Decimal(regular) if regular else None,
    )


def test_minor_unit_markup_is_not_taken_as_the_regular_price():
    markup = {**IN_STOCK_MARKUP, "offers": {"price": "24999", "priceCurrency": "EUR"}}
    product = extract_product(page('<span class="product-price">249,99 €</span>', markup), URL)
    assert (product.price, product.regular_price) == (Decimal("249.99"), None)


@pytest.mark.parametrize(
    ("url", "currency"),
    [(URL, "USD"), ("https://shop.example.co.nz/p/1", "NZD"), ("https://shop.example.com.au/p/1", "AUD")],
)
def test_bare_dollar_is_usd_only_without_a_country_domain(url, currency):
    body = '<span class="price"><span>$</span><span>24</span>.<span class="cents">99</span></span>'
    assert extract_product(page(body), url).currency == currency


def test_other_sellers_offers_give_neither_price_nor_sku():
    sellers = "".join(
        f'<div class="osh-row"><span class="price">EGP {p}</span><button data-sku="OTHER{p}">Buy now</button></div>'
        for p in (234, 265)
    )
    body = (
        f'<section class="osh-table -sellers">{sellers}</section>'
        + "".join(f"<p>Feature {i}</p>" for i in range(30))
        + '<div class="details-footer"><span class="price">EGP 222</span>'
        '<button class="add-to-cart" data-sku="MAIN222">Buy now</button></div>'
    )
    product = extract_product(page(body, buy=False), URL)
    assert (product.price, product.sku) == (Decimal("222"), "MAIN222")


# --- brand and SKU ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "<table><tr><th>Brand:</th><td>Acme</td></tr></table>",
        '<ul class="breadcrumb"><li>Home</li><li>Brands</li><li>Acme</li><li>Widget Pro</li></ul>',
        '<p class="product-brand">by <a href="/brands/acme">Acme</a></p>',
        '<a href="/brand/acme">Acme</a>',
        "<div>Brand: Acme<br/>Product Code: 63-08783<br/>Availability: In Stock</div>",
    ],
    ids=["row", "breadcrumb", "brand-element", "brand-link", "rows-run-together"],
)
def test_brand_from_the_visible_page(body):
    assert extract_product(page(body + '<span class="price">$5</span>'), URL).brand == "Acme"


BRAND_MENU = (
    '<div class="nav"><select name="prod_brand"><option value="0">Shop by brand</option>'
    '<option value="3">Acme</option><option value="4">Globex</option></select></div>'
)


@pytest.mark.parametrize(
    ("body", "brand"),
    [
        # hidden by the theme, but beside the heading and named as the brand
        (
            '<div style="display:none" class="brandName"><a class="brand" href="/c/acme">Acme</a></div>',
            "Acme",
        ),
        # a sub-heading naming one of the brands the site's own brand menu lists
        (BRAND_MENU + "<h2>Acme</h2><h3>Jane Designer</h3>", "Acme"),
        # a sub-heading the brand menu does not list (a designer) is no brand
        (BRAND_MENU + "<h2>Jane Designer</h2>", None),
    ],
    ids=["hidden-brand-element", "listed-in-brand-menu", "not-listed"],
)
def test_brand_beside_the_heading(body, brand):
    assert extract_product(page(body + '<span class="price">$5</span>'), URL).brand == brand


def test_no_brand_from_the_title_or_the_site_logo():
    body = '<a class="navbar-brand" href="/">ShopCo</a><span class="price">$5</span>'
    assert extract_product(page(body), URL).brand is None


@pytest.mark.parametrize(
    ("body", "jsonld", "sku"),
    [
        ("<p>Product ID: 5512</p><p>SKU: AC-100</p>", None, "AC-100"),
        ("<p>Item no. AC-100</p>", {**IN_STOCK_MARKUP, "productID": "5512"}, "AC-100"),
        ("<p>Product ID: 5512</p>", None, "5512"),  # a product ID is still better than nothing
        ("", {**IN_STOCK_MARKUP, "productID": "5512"}, "5512"),
    ],
)
def test_product_ids_yield_to_a_real_sku(body, jsonld, sku):
    assert extract_product(page(body + '<span class="price">$5</span>', jsonld), URL).sku == sku


@pytest.mark.parametrize(
    ("links", "sku"),
    [
        (["/lighting/mirror-ball/tom-dixon/MBB25/", "/lighting/void/tom-dixon/VOID7W/"], "MSS45UKC"),
        (["/lighting/mirror-ball/tom-dixon/MBB25/"], None),  # one link is no URL scheme
        (["/lighting/mirror-ball/MBB25/", "/lighting/void/VOID7W/"], None),  # other depth
    ],
    ids=["scheme-confirmed", "one-link", "other-depth"],
)
def test_item_code_ending_the_url_scheme_is_the_sku(links, sku):
    related = "".join(f'<a href="{link}">Related</a>' for link in links)
    url = "https://shop.example.com/lighting/copper-shade/tom-dixon/MSS45UKC/"
    assert extract_product(page(related + '<span class="price">$5</span>'), url).sku == sku
