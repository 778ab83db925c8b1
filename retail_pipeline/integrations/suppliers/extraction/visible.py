"""What a person sees on the page ("html" layer): the main heading, the price next to the buy button,
identifiers in labelled text and spec tables, breadcrumbs, stock wording and the buy button's state.

Only general page conventions are used (price-ish class names, <del> for old prices, label words in
the shop's language); nothing here knows any particular shop.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property, lru_cache
from itertools import chain, islice, pairwise

from lxml import etree

from retail_pipeline.integrations.suppliers.extraction.prices import (
    clean_text,
    normalise_availability,
    normalise_condition,
    parse_amount,
    parse_price,
)

from .identifiers import clean_sku, normalise_gtin
from .page import Page, is_hidden, remembered

_PRICE_ATTR = re.compile(
    r"price|preis|prix|precio|prezzo|cena|pre[cç]o|\bpris|hinta|fiyat|цена|kaina|amount"
    r"|money|betrag|kaufpreis",
    re.I,
)
_NOT_PRICE_ATTR = re.compile(
    r"per-?unit|unit-?price|base-?price|grundpreis|price-?per|pricing-table|filter"
    r"|slider|shipping|delivery|versand|\btax|vat-|installment|monthly|finance"
    r"|klarna|afterpay|paypal|points|saving|you-?save|percent|rating|review|qty"
    r"|quantity|subtotal|total|cart-|currency-?(select|switch)|price-?match|alert"
    r"|price-?label|price-?title|label-?price|per-?month|deposit|tier",
    re.I,
)
_OLD_ATTR = re.compile(
    r"\bold|-old|_old|oldprice|\bwas\b|-was|was-|compare|strike|crossed|line-?through|\brrp"
    r"|\buvp|msrp|list-?price|listprice|original|before|prev|recommended-?retail|regular-?price--?"
    r"(?:on-?sale|struck)|price--?regular.*sale|initial-price|recommended",
    re.I,
)
_CURRENT_ATTR = re.compile(
    r"sale|special|current|\bnow|final|actual|offer|promo|selling|our-?price|main-?price"
    r"|product-?price|price--?(large|big|main|current)|pdp|finalprice|price-?new|new-?price"
    r"|buy-?box|price__current|price-?value|price-?amount",
    re.I,
)
_OLD_WORDS = re.compile(
    r"^\s*(was|statt|vorher|uvp|rrp|msrp|list price|regular price|reg\.?|compare at|avant"
    r"|antes|prima|zamiast|cena regularna|originally|normalpreis|ursprünglich|平常|通常価格"
    r"|precio anterior|prix barré|before|retail|m\.?r\.?p)\b",
    re.I,
)
_SAVING_WORDS = re.compile(
    r"^\s*(you save|save|saving|sie sparen|sparen sie|ersparnis|économisez|ahorra|ahorro|risparmi|oszczędzasz"
    r"|bespaar|du sparar|spar|economize)\b",
    re.I,
)
_PRICE_LABEL_TEXT = re.compile(
    r"^\s*(price|preis|prix|precio|prezzo|cena|preço|pris|hinta|fiyat|цена|価格|販売価格"
    r"|our price|now|sale price|your price|buy it now|current price|ihr preis|unser preis"
    r"|aktueller preis|cena brutto|kaufpreis|startpreis)\s*[:：]?\s*",
    re.I,
)
# Instalment and financing offers ("Oder 1,17 € mtl. in 12 Raten", "от 5 627 ₽ × 4 платежа", "or 4
# payments of $12.50") show an amount that is not the price; recognised by the container's class or
# by the words around the amount.
_INSTALMENT_ATTR = re.compile(
    r"install?ment|monthly|per-?month|financ|klarna|afterpay|affirm|bnpl|parts?-payment|payment-plan"
    r"|raten|credit|leasing|subscription|abo-price",
    re.I,
)
_INSTALMENT_TEXT = re.compile(
    r"\bmtl\b|monatlich|\bRaten\b|/\s*mo(?:nth|s)?\b|per month|a month|\bmonthly|\bmonths\b|/\s*mes\b|al mes"
    r"|\bcuotas\b|par mois|/\s*mois|\bmensualit|al mese|\brate\b|miesi[eę]cznie|\braty\b|× ?\d|\bx ?\d+ ?(?:payments|pagos)"
    r"|payments? of|платеж|в месяц|/мес|分割|per maand|per månad|kuukausi|\binstal+ments?\b",
    re.I,
)
# Prices shown with and without sales tax ("4,92 € zzgl. MwSt" next to "5,95 € inkl. MwSt", "£10 ex VAT
# / £12 inc VAT", "HT / TTC"): the customer pays the one with tax.
_NET_ATTR = re.compile(
    r"excl|exkl|excluding|without-?tax|tax-?excl|net-?price|price-?net\b|netto|ex-?vat|\bht\b", re.I
)
_GROSS_ATTR = re.compile(r"incl|inkl|including|with-?tax|tax-?incl|gross|brutto|inc-?vat|\bttc\b", re.I)
_NET_TEXT = re.compile(
    r"zzgl\.?\s*(?:\d+\s*%\s*)?mwst|exkl\.?\s*mwst|excl\.?\s*(?:vat|tax|btw|tva|iva|gst)|excluding (?:vat|tax)"
    r"|\bex\.? ?(?:vat|gst|tax)\b|\bnetto\b|\bHT\b|hors taxes?|sans tva|sin iva|senza iva|bez dph|bez vat"
    r"|без ндс|\+ ?(?:vat|mwst|iva|tva)\b|plus vat|excl\. btw|exclusief btw|税抜|税別",
    re.I,
)
_GROSS_TEXT = re.compile(
    r"inkl\.?\s*(?:\d+\s*%\s*)?mwst|incl\.?\s*(?:vat|tax|btw|tva|iva|gst)|including (?:vat|tax)|\binc\.? ?(?:vat|gst)\b"
    r"|\bbrutto\b|\bTTC\b|con iva|iva incluida|iva inclusa|z dph|s dph|с ндс|inclusief btw|税込|incl\. btw|tax included",
    re.I,
)
_CURRENCY_AMOUNT = re.compile(
    r"(?:[$€£¥₹₽₴₪฿₫₩₺₦₱]|\b[A-Z]{3}\b|zł|Kč|kr\b|R\$)\s?\d[\d.,'\s]*|\d[\d.,'\s]*\s?(?:[$€£¥₹₽₴₪฿₫₩₺₦₱]|zł|Kč|kr\b|Ft|lei|руб|грн|円|元)"
)
_HAS_CURRENCY = re.compile(
    r"[$€£¥₹₽₴₪฿₫₩₺₦₱]|\b[A-Z]{3}\b|zł|Kč|kr\b|Ft|lei|лв|руб|грн|円|元|R\$|CHF|Rp|RM\b", re.U
)

_BUY_WORDS = re.compile(
    r"add[ -]?to[ -]?(cart|bag|basket|trolley)|add_to_cart|addtocart|buy[ -]?now|buy it now|buy-?button"
    r"|in den (warenkorb|einkaufswagen)|warenkorb|jetzt kaufen|ajouter au panier|\bacheter\b|añadir al carrito"
    r"|agregar al carrito|\bcomprar\b|aggiungi al carrello|\bacquista\b|dodaj do koszyka|kup teraz|do koszyka"
    r"|(toevoegen aan|in) winkelwagen|lägg i varukorgen|legg i handlekurv|læg i kurv|lisää ostoskoriin"
    r"|sepete ekle|в корзину|купить|カートに入れる|カートへ|加入购物车|立即购买|pre-?order|vorbestellen"
    r"|product-form__submit|single_add_to_cart|btn-cart|add-to-bag|place bid|bid now|make an? offer|kaufen",
    re.I,
)
_STOCK_ATTR = re.compile(
    r"stock|availab|inventory|verf[uü]gbar|lager|dispon|delivery-?status|lieferstatus"
    r"|soldout|sold-out",
    re.I,
)

# "Availability: In stock", "Current Stock/المخزن: 67": a stock label whose value follows it (as its tail
# or in the next element). A bilingual label ("Stock/المخزن") is one label.
_STOCK_LABEL = re.compile(
    r"^(?:availability|available|stock|in stock|current stock|stock status|stock level|inventory"
    r"|verf[uü]gbarkeit|lieferbarkeit|lagerbestand|lieferstatus|disponibilit[éeàa]|disponibilidad"
    r"|disponibilidade|dostępność|beschikbaarheid|voorraad|tillgänglighet|lagerstatus|saatavuus"
    r"|наличие|в наличии|在庫|在庫状況|stok durumu|stok|dostupnost|skladem|k dispozici)"
    r"(?:\s*/\s*[^:：/]{1,20})?\s*[:：]\s*$",
    re.I,
)
# "Sold out" said of another variant's swatch or another product's card is not this item's state
# (related/recently-viewed blocks are site chrome, left out of the main area altogether).
_OTHER_VARIANT_ATTR = re.compile(r"variant|variation|swatch|product-?(?:card|tile)", re.I)
# Other sellers' offers for the same product on a marketplace page: their prices and SKUs are not
# the buy box's.
_OTHER_OFFERS_ATTR = re.compile(
    r"other-?(?:sellers?|offers?|vendors?)|more-?(?:offers|sellers)|offer-?list|sellers?-?(?:list|table|panel)"
    r"|(?<!\w)-?sellers\b|marketplace-?offers|all-?offers",
    re.I,
)
# A sentence that opens with a condition ("If no price is shown, the item is out of stock") states a
# rule, not this item's state; "Sold out - notify me when it is back" does not open with one.
_CONDITIONAL_OPENING = re.compile(
    r"^\W*(?:\w+\W+){0,2}?(?:if|when|whenever|unless|wenn|falls|sofern|si|cuando|quando|indien|jeśli|jeżeli"
    r"|если|jos|eğer)\b",
    re.I,
)
# How far (in elements, document order) a "sold out" may sit from the heading, the price or the buy
# button and still be about this item; a product block is a few dozen elements.
_STOCK_NEAR_ANCHOR = 60
_STOCK_COUNT = re.compile(r"^\d{1,6}(?:\s*(?:pcs|pieces|items|units|stk\.?|stück|шт\.?|unidades|pz))?$", re.I)
# A form that puts the product in the cart: its submit control is the buy button even when the
# control itself says nothing ("<input type=image src=AddCartButton.gif>").
_CART_FORM_ACTION = re.compile(
    r"cart|basket|warenkorb|panier|carrito|carrello|koszyk|winkelwagen|varukorg|handlekurv|checkout"
    r"|orderitemadd|add-?to",
    re.I,
)
_NOT_CART_FORM_ACTION = re.compile(r"wish|search|newsletter|subscribe|login|compare", re.I)

_LABEL_SEP = r"\s*(?:[:：#]|n[o°º]\.?|nr\.?)?\s*"
_VALUE = r"([A-Za-z0-9][\w\-./]*\w|\d)"
_SKU_LABEL = (
    r"sku|art(?:ikel)?\.?[-\s]*(?:nr|no|nummer|number)\.?|artikelnummer|artikelnr\.?|art\.?[- ]?nr\.?|article\s*(?:no\.?|nr\.?|number|code|#)"
    r"|item\s*(?:#|no\.?|number|code)|product\s*(?:#|no\.?|number|code)|prod(?:uct)?\.?\s*code"
    r"|product code|référence|r[ée]f\.|r[ée]f(?:érence)?\s*(?:produit|article)?|reference|código"
    r"(?:\s*(?:del\s*)?(?:producto|artículo|articulo|produto))?|c[oó]d\.|codice(?:\s*(?:articolo|prodotto))?"
    r"|kod(?:\s*produktu)?|numer\s*katalogowy|numer\s*oferty|indeks|varenummer|varenr\.?|tuotenumero"
    r"|tuotekoodi|商品番号|品番|商品コード|asin|listing\s*(?:#|id|no\.?|number)|anzeigen-?id|anzeigennummer"
    r"|ebay\s*item\s*number|item\s*number|stock\s*(?:#|no\.?|number|code)|part\s*#|cat(?:alog(?:ue)?)?\s*(?:#|no\.?|number)"
    r"|artnr\.?|bestellnummer|bestell-?nr\.?|produktnummer|artikel-?id|cat\.?\s*no\.?|ad\s*id|ad\s*number"
    r"|артикул|код товара|ürün kodu|stok kodu|상품코드|상품번호|货号|商品编号|رمز المنتج|מק\"ט"
    r"|cikkszám|k[oó]d produktu|katalogov[eé] [čc][ií]slo|objednac[ií] [čc][ií]slo|productcode|artikkelnummer"
    r"|refer[eê]ncia|cod(?:ul)? produs|κωδικός(?: προϊόντος)?|m[aã] s[aả]n ph[aẩ]m|kode produk|รหัสสินค้า|varekode"
)
# "Product ID: 5512" is often a database key, not the SKU: read apart and used after a real SKU label.
_PRODUCT_ID_LABEL = r"(?:product|item|prod\.?)\s*id"
_GTIN_LABEL = r"ean(?:-?13|-?8|/upc)?|gtin(?:-?1[234]|-?8)?|upc|isbn(?:-?13)?|jan(?:\s*コード)?|barcode|código de barras|kod ean"
_MPN_LABEL = (
    r"mpn|model(?:\s*(?:no\.?|number|#|code))?|modell(?:nummer)?|modèle|modelo|modello|型番|model\s*name"
    r"|manufacturer\s*part\s*(?:no\.?|number|#)|mfr\.?\s*part\s*(?:no\.?|number|#)?|herstellernummer"
    r"|hersteller-?art(?:ikel)?-?nr\.?|part\s*(?:no\.?|number)|kod\s*producenta|référence fabricant"
    r"|numéro de pièce"
)
_BRAND_LABEL = (
    r"brand|marke|marque|marca|merk|marka|hersteller|manufacturer|ブランド|メーカー|бренд|producent"
)
_BRANDS_CRUMB = re.compile(
    r"^(?:brands?|all brands|marken?|marques?|marcas?|marche|merken|marki|бренды|ブランド|品牌)$", re.I
)
_BRAND_ATTR = re.compile(r"brand|manufacturer|hersteller|vendor", re.I)
_NOT_BRAND_ATTR = re.compile(r"navbar|logo|site|header|footer|filter|nav-|menu", re.I)
_BRAND_LINK = re.compile(
    r"/(?:brands?|marken?|marques?|marcas?|merken|hersteller|manufacturers?)/[^/?#]+", re.I
)
_BY_WORDS = re.compile(
    r"^\s*(?:(?:brand|marke|marque|marca|merk|hersteller|manufacturer)\s*[:：]|by|von|par|de|di|door|av|przez"
    r"|visit the|more from|shop all|alle produkte von|tous les produits)\s+|\s+(?:store|shop)$",
    re.I,
)
_CONDITION_LABEL = r"condition|item condition|zustand|état|etat|estado|condizione|condizioni|stan|kunto|状態|商品の状態|состояние"

_LABELS = {
    "gtin": re.compile(rf"^(?:{_GTIN_LABEL}){_LABEL_SEP}(\d[\d\s-]{{6,16}}\d)\b", re.I),
    "mpn": re.compile(rf"^(?:{_MPN_LABEL}){_LABEL_SEP}{_VALUE}", re.I),
    "sku": re.compile(rf"^(?:{_SKU_LABEL}){_LABEL_SEP}{_VALUE}", re.I),
    "product_id": re.compile(rf"^(?:{_PRODUCT_ID_LABEL}){_LABEL_SEP}{_VALUE}", re.I),
}
_TEXT_LABELS = {
    "brand": re.compile(rf"^(?:{_BRAND_LABEL})\s*[:：]\s*(.{{2,60}})$", re.I),
    "condition": re.compile(rf"^(?:{_CONDITION_LABEL})\s*[:：]\s*(.{{2,80}})$", re.I),
}
_ANY_LABEL = re.compile(
    rf"^\s*(?:{_SKU_LABEL}|{_PRODUCT_ID_LABEL}|{_GTIN_LABEL}|{_MPN_LABEL}|{_BRAND_LABEL}|{_CONDITION_LABEL})",
    re.I,
)
# Rows run together when a block separates them with <br> ("Brand: Casio Product Code: 63-08783
# Availability: In Stock"): a text value ends where the next known label begins.
_NEXT_LABEL = re.compile(
    rf"\s+(?:{_SKU_LABEL}|{_PRODUCT_ID_LABEL}|{_GTIN_LABEL}|{_MPN_LABEL}|{_CONDITION_LABEL}|availability"
    rf"|stock|verf[uü]gbarkeit|disponibilit[éeàa]|disponibilidad|price|preis|prix|precio)\s*[:：#]",
    re.I,
)
_CELL_LABELS = {
    name: re.compile(rf"^(?:{pattern})\s*[:：]?$", re.I)
    for name, pattern in (
        ("sku", _SKU_LABEL),
        ("product_id", _PRODUCT_ID_LABEL),
        ("gtin", _GTIN_LABEL),
        ("mpn", _MPN_LABEL),
        ("brand", _BRAND_LABEL),
        ("condition", _CONDITION_LABEL),
    )
}
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")
_NUMBER_RUN = re.compile(r"\d[\d.,'\s]*")
_WORD_RUN = re.compile(r"[^\W\d_]{2,}")
_UPPER_CODE = re.compile(r"[A-Z][A-Z0-9\-_./]{3,}")
_NON_WORD = re.compile(r"\W+")
_PRODUCTISH_HEADING = re.compile(r"product|title|name", re.I)
_DISABLED_CLASS = re.compile(r"\bdisabled\b|is-disabled|btn--disabled", re.I)
_BREADCRUMB_MARKER = re.compile(r"breadcrumb|brotkr|fil-?d-?ariane|ariane|migas|bread-crumb", re.I)
_GALLERY_CONTEXT = re.compile(r"gallery|product|main-?image|primary|zoom|hero|slide|photo|media", re.I)
_NOT_GALLERY_IMAGE = re.compile(r"\.svg|sprite|logo|icon|placeholder|loader|blank\.", re.I)
_DESCRIPTION_MARKER = re.compile(
    r"(product|item)[-_]?(description|details|desc)|^description$|\bdescription\b", re.I
)
_description_marker, _gallery_context = map(remembered, (_DESCRIPTION_MARKER, _GALLERY_CONTEXT))
# The same questions about the same class names and labels, page after page: answers remembered.
_price_attr, _not_price_attr, _current_attr, _old_attr, _instalment_attr, _stock_attr = map(
    remembered, (_PRICE_ATTR, _NOT_PRICE_ATTR, _CURRENT_ATTR, _OLD_ATTR, _INSTALMENT_ATTR, _STOCK_ATTR)
)
_net_attr, _gross_attr, _buy_words = map(remembered, (_NET_ATTR, _GROSS_ATTR, _BUY_WORDS))
_any_label = remembered(_ANY_LABEL, anchored=True)
_other_variant_attr, _other_offers_attr = remembered(_OTHER_VARIANT_ATTR), remembered(_OTHER_OFFERS_ATTR)
_SOLD_OUT = ("out_of_stock", "discontinued")
_SKU_ATTRS = ("data-sku", "data-product-sku", "data-product-code", "data-item-sku", "data-article-number")
_stock_label = remembered(_STOCK_LABEL, anchored=True)
_HOME_CRUMB = re.compile(
    r"^(home|start|startseite|accueil|inicio|início|home page|strona główna|главная|ホーム"
    r"|首页|forside|etusivu|hem|начало|home\s*page|homepage|\W*)$",
    re.I,
)


@dataclass
class PriceCandidate:
    amount: Decimal
    currency: str | None
    element: etree._Element
    score: float
    old: bool
    strong: bool  # a price-ish element showing a currency: safe to set against stale markup
    tax: str | None = None  # "net" (shown without sales tax), "gross" (with it), None when not said


@dataclass
class VisiblePage:
    page: Page

    # --- anchors ----------------------------------------------------------------------------------

    @cached_property
    def heading(self) -> etree._Element | None:
        page = self.page
        headings = [el for el in page.main_elements if el.tag == "h1" and page.text(el)]
        if not headings:
            return None
        productish = [h for h in headings if _PRODUCTISH_HEADING.search(page.attrs(h).get("class") or "")]
        return (productish or headings)[0]

    @cached_property
    def buy_buttons(self) -> list[tuple[etree._Element, bool]]:
        """(element, enabled) for each add-to-cart/buy control in the main area."""
        found = []
        page = self.page
        for el in page.main_elements:
            if el.tag not in ("button", "input", "a"):
                continue
            get = page.attrs(el).get
            if el.tag == "input" and (get("type") or "").lower() not in ("submit", "button", "image"):
                continue
            attrs = " ".join(
                filter(
                    None,
                    (
                        get("class"),
                        get("id"),
                        get("name"),
                        get("value"),
                        get("data-action"),
                        get("title"),
                        get("aria-label"),
                    ),
                )
            )
            label = page.text(el) if el.tag != "input" else ""
            if el.tag == "a" and len(label) > 40:
                continue
            form = next((a for a in el.iterancestors("form")), None)
            if not (_buy_words(label) or _buy_words(attrs) or _submits_cart_form(el, get, form, page)):
                continue
            disabled = (
                get("disabled") is not None
                or (get("aria-disabled") or "").lower() == "true"
                or _DISABLED_CLASS.search(get("class") or "") is not None
                or normalise_availability(label) == "out_of_stock"
                or (form is not None and form.get("disabled") is not None)
            )
            found.append((el, not disabled))
        return found

    @cached_property
    def text(self) -> str:
        return self.page.text(self.page.body)

    @cached_property
    def has_enabled_buy_button(self) -> bool:
        return any(enabled for _, enabled in self.buy_buttons)

    @cached_property
    def _anchor_positions(self) -> list[int]:
        """Where the heading and the buy buttons are in the main area."""
        order = self.page.order
        return [
            order[a]
            for a in [self.heading, *(b for b, _ in self.buy_buttons)]
            if a is not None and a in order
        ]

    def _distance_score(self, el: etree._Element) -> float:
        index = self.page.order.get(el)
        anchors = self._anchor_positions
        if index is None or not anchors:
            return 0.0
        distance = min(abs(index - a) for a in anchors)
        return 3.0 / (1.0 + distance / 25.0)

    # --- price ------------------------------------------------------------------------------------

    @cached_property
    def price_candidates(self) -> list[PriceCandidate]:
        candidates: list[PriceCandidate] = []
        attr_elements: list[etree._Element] = []
        page = self.page
        for el in page.main_elements:
            get = page.attrs(el).get
            attrs = " ".join(
                filter(
                    None,
                    (
                        get("class"),
                        get("id"),
                        get("itemprop"),
                        get("data-price-type"),
                        get("data-testid"),
                        get("data-qa"),
                    ),
                )
            )
            if (
                attrs
                and _price_attr(attrs)
                and not _not_price_attr(attrs)
                and (self._machine_amount(el) is not None or _DIGIT.search(page.content(el)))
            ):
                attr_elements.append(el)
        attr_elements = [el for el in attr_elements if not self._in_other_offers(el)]
        attr_set = set(attr_elements)
        for el in attr_elements:
            # Innermost price element wins: "<div class=price><ins>€9</ins><del>€12</del></div>".
            if any(d in attr_set for d in el.iterdescendants()) and not self._machine_amount(el):
                continue
            candidate = self._candidate(el, base=1.0)
            if candidate:
                candidates.append(candidate)
        seen = {c.element for c in candidates}
        for el in self.page.main_elements:
            if el in seen or el.tag in ("script", "style", "option", "select", "a"):
                continue
            text = (el.text or "").strip()
            if not text or len(text) > 40 or len(el) > 2:
                continue
            labelled = _PRICE_LABEL_TEXT.match(text)
            if (
                labelled or (_looks_like_price(text) and _HAS_CURRENCY.search(text))
            ) and not self._in_other_offers(el):
                candidate = self._candidate(
                    el, base=0.8 if labelled else 0.3, text=text[labelled.end() :] if labelled else None
                )
                if candidate:
                    candidates.append(candidate)
        return candidates

    @cached_property
    def _other_offer_elements(self) -> set[etree._Element]:
        """Elements inside other sellers' offers (a marketplace's "more offers" table), found once."""
        page, inside = self.page, set()
        for el in page.main_elements:
            if el in inside:
                continue
            get = page.attrs(el).get
            if _other_offers_attr(" ".join(filter(None, (get("class"), get("id"))))):
                inside.update(el.iter())
        return inside

    def _in_other_offers(self, el: etree._Element) -> bool:
        return el in self._other_offer_elements

    def _candidate(self, el: etree._Element, base: float, text: str | None = None) -> PriceCandidate | None:
        page = self.page
        machine = self._machine_amount(el)
        full_text = text if text is not None else _shown_price_text(page, el)
        if _PER_UNIT.search(full_text or "") or _PER_UNIT.match(el.tail or ""):
            return None  # "€2,60 / kg", "(£1.25 per 100 ml)": a unit price, not the item's
        if machine is None and (
            not full_text or len(full_text) > 45 or "%" in full_text or not _DIGIT.search(full_text)
        ):
            return None
        if self._is_instalment(el):
            return None
        if _SAVING_WORDS.match(full_text) or any(
            _SAVING_WORDS.match(page.text(a))
            for a in islice(el.iterancestors(), 2)
            if len(page.content(a)) < 60
        ):
            return None  # "You save £10.00" is an amount, not the price
        if machine is None and not _HAS_CURRENCY.search(full_text):
            full_text = _with_split_parts(page, el, full_text)
        amount, currency = parse_price(full_text) if full_text else (None, None)
        cents = _superscript_cents(el)
        if cents is not None and amount is not None and amount == amount.to_integral_value():
            # "249<sup>99</sup> €" reads as "249 99": the superscript is the cents, not more digits.
            amount = parse_price(_shown_price_text(page, el, skip=cents[0]))[0]
            amount = amount + cents[1] if amount is not None else None
        if machine is not None and not (amount is not None and machine == amount * 100):
            amount = machine  # unless the attribute holds the shown price in minor units (24999 for 249,99)
        if amount is None or amount <= 0:
            return None
        if (
            machine is None
            and not _looks_like_price(_PRICE_LABEL_TEXT.sub("", full_text))
            and not _OLD_WORDS.match(full_text)
        ):
            return None
        get = page.attrs(el).get
        attrs = " ".join(filter(None, (get("class"), get("id"), get("data-price-type"))))
        old = self._is_old(el, full_text)
        has_currency = bool(
            currency
            or _HAS_CURRENCY.search(full_text or "")
            or get("data-currency")
            or get("data-price-currency")
        )
        score = base + (1.0 if has_currency else 0.0) + self._distance_score(el)
        if _current_attr(attrs) or (get("data-price-type") or "").lower() == "finalprice":
            score += 1.5
        if (get("itemprop") or "").lower() == "price":
            score += 2.0
        strong = has_currency and base >= 0.8 and not old
        return PriceCandidate(amount, currency, el, score, old, strong, _tax_basis(page, el))

    def _machine_amount(self, el: etree._Element) -> Decimal | None:
        return _machine_amount(el, self.page.attrs(el))

    def _is_instalment(self, el: etree._Element) -> bool:
        """An amount inside a financing/instalment offer (by class, or by the words of its sentence)."""
        page = self.page
        for depth, node in enumerate(chain((el,), el.iterancestors())):
            if depth > 4 or node.tag in ("body", "html"):
                break
            get = page.attrs(node).get
            attrs = " ".join(filter(None, (get("class"), get("id"), get("data-testid"))))
            if attrs and _instalment_attr(attrs):
                return True
            if depth <= 3 and len(page.content(node)) <= 120:
                text = page.text(node)
                if len(_CURRENCY_AMOUNT.findall(text)) > 1:
                    break  # the container holds other prices too: its words are not about this one
                if _INSTALMENT_TEXT.search(text):
                    return True
        return False

    def _is_old(self, el: etree._Element, text: str) -> bool:
        if _OLD_WORDS.match(text or ""):
            return True
        page = self.page
        for depth, node in enumerate(chain((el,), el.iterancestors())):
            if depth > 3:
                break
            if node.tag in ("del", "s", "strike"):
                return True
            get = page.attrs(node).get
            attrs = " ".join(filter(None, (get("class"), get("id"), get("data-price-type"))))
            if _old_attr(attrs) or "line-through" in (get("style") or ""):
                return True
            if (get("data-price-type") or "").lower() == "oldprice":
                return True
            # A strike flag in a data attribute (Amazon's `data-a-strike="true"` on the M.R.P.).
            if any("strike" in key and value.lower() == "true" for key, value in page.attrs(node).items()):
                return True
            # A label just before the price: "List Price: <span>$34.99</span>", "<b>Was</b> <i>$49</i>".
            leads = [node.text or ""] if node is not el else []
            previous = node.getprevious()
            # A hidden sibling ("<div class=RetailPrice style='display:none'>RRP:</div>", an empty
            # template row) labels nothing the customer sees.
            if (
                previous is not None
                and isinstance(previous.tag, str)
                and not is_hidden(previous, page.attrs(previous))
            ):
                leads.append(page.text(previous) + " " + (previous.tail or ""))
            if any(_OLD_WORDS.match(lead.strip()) and not _DIGIT.search(lead) for lead in leads):
                return True
        return False

    @cached_property
    def current_price(self) -> PriceCandidate | None:
        current = [c for c in self.price_candidates if not c.old]
        if not current:
            return None
        best = max(current, key=lambda c: (c.score, -self.page.order.get(c.element, 0)))
        return self.gross_for(best.amount) or best if best.tax == "net" else best

    def gross_for(self, net: Decimal) -> PriceCandidate | None:
        """The with-tax price shown for a net amount (`net` shown as excluding tax, a price up to 30%
        higher shown as including it, close by): what the customer actually pays."""
        if not any(c.tax == "net" and c.amount == net for c in self.price_candidates):
            return None
        order = self.page.order
        here = min(
            (order.get(c.element, 0) for c in self.price_candidates if c.tax == "net" and c.amount == net),
            default=0,
        )
        gross = [
            c
            for c in self.price_candidates
            if c.tax == "gross" and not c.old and net < c.amount <= net * Decimal("1.3")
        ]
        return min(gross, key=lambda c: abs(order.get(c.element, 0) - here), default=None)

    @cached_property
    def old_amounts(self) -> set[Decimal]:
        return {c.amount for c in self.price_candidates if c.old}

    @cached_property
    def shown_amounts(self) -> set[Decimal]:
        return {c.amount for c in self.price_candidates}

    def regular_price_near(self, price: Decimal) -> Decimal | None:
        """The struck/old price shown nearest to the current one (only if it is higher)."""
        current = self.current_price
        olds = [c for c in self.price_candidates if c.old and c.amount > price]
        if not olds:
            return None
        if current is None:
            return olds[0].amount
        order = self.page.order
        here = order.get(current.element, 0)
        return min(olds, key=lambda c: abs(order.get(c.element, 0) - here)).amount

    # --- stock ------------------------------------------------------------------------------------

    @cached_property
    def stock_wording(self) -> str:
        """Availability said in words on the page: in an availability element, a badge or the buy button."""
        verdicts: list[str] = []
        buttons = {b for b, _ in self.buy_buttons}
        page = self.page
        for el in page.main_elements:
            get = page.attrs(el).get
            attrs = " ".join(filter(None, (get("class"), get("id"), get("itemprop"))))
            own = (el.text or "").strip()
            if own and len(own) <= 40 and _stock_label(own) and len(el) == 0:
                verdict = _labelled_stock(page, el)
                if verdict != "unknown" and (verdict not in _SOLD_OUT or self._about_this_item(el)):
                    verdicts.append(verdict)
                continue
            if (_stock_attr(attrs) or el in buttons) and len(page.content(el)) <= 80:
                verdict = normalise_availability(page.text(el))
            elif len(el) == 0 and 0 < len(text := (el.text or "").strip()) <= 30 and _LETTER.search(text):
                # A bare number ("0" reviews) is no stock wording without a stock label or class.
                verdict = normalise_availability(text)
                # A short standalone "Available" line is too vague; only negative wording counts there.
                if verdict not in ("out_of_stock", "discontinued", "preorder"):
                    verdict = "unknown"
            else:
                continue
            # Variant pickers say "sold out" per size/colour; that is not the product's state.
            picker = any(
                a.tag in ("option", "select", "label", "fieldset")
                for a in islice(chain((el,), el.iterancestors()), 5)
            )
            if (
                verdict != "unknown"
                and not picker
                and (verdict not in _SOLD_OUT or self._about_this_item(el))
            ):
                verdicts.append(verdict)
        for wanted in ("out_of_stock", "discontinued", "preorder", "backorder", "limited", "in_stock"):
            if wanted in verdicts:
                return wanted
        return "unknown"

    @cached_property
    def _stock_anchors(self) -> list[int]:
        """Where the heading, the buy buttons and the current price are (document order)."""
        current = self.current_price
        extra = [self.page.order.get(current.element)] if current is not None else []
        return [i for i in [*self._anchor_positions, *extra] if i is not None]

    def _about_this_item(self, el: etree._Element) -> bool:
        """Whether "sold out" wording at `el` speaks of the page's own item: not a rule in shop
        boilerplate, not inside other sellers' offers, other products or variant swatches, and within
        the product block (near the heading, the price or the buy button)."""
        page = self.page
        if _CONDITIONAL_OPENING.search(page.text(el)[:200]) or self._in_other_offers(el):
            return False
        for ancestor in islice(el.iterancestors(), 12):
            if ancestor.tag in ("body", "html"):
                break
            get = page.attrs(ancestor).get
            if _other_variant_attr(" ".join(filter(None, (get("class"), get("id"))))):
                return False
        index, anchors = page.order.get(el), self._stock_anchors
        return index is None or not anchors or min(abs(index - a) for a in anchors) <= _STOCK_NEAR_ANCHOR

    @cached_property
    def availability(self) -> str:
        wording = self.stock_wording
        if wording in ("out_of_stock", "discontinued") and not self.has_enabled_buy_button:
            return wording
        if wording in ("preorder", "backorder", "limited"):
            return wording
        if self.has_enabled_buy_button or wording == "in_stock":
            return "in_stock"
        return "unknown"

    # --- labelled values --------------------------------------------------------------------------

    @cached_property
    def labelled(self) -> dict[str, str]:
        """sku/gtin/mpn/brand/condition from spec tables, definition lists and "Label: value" lines."""
        found: dict[str, str] = {}
        page = self.page
        for el in page.main_elements:
            if el.tag == "tr":
                cells = [c for c in el if isinstance(c.tag, str) and c.tag in ("th", "td")]
                if len(cells) >= 2:
                    self._pair(found, page.text(cells[0]), page.text(cells[1]))
                continue
            if el.tag == "dt":
                value = el.getnext()
                if value is not None and value.tag == "dd":
                    self._pair(found, page.text(el), page.text(value))
                continue
            own = el.text
            if len(el) == 0 and own and len(own) <= 40 and _any_label(own.strip()):
                # "<div>Article Number :</div><div>003.025.02</div>": a label element, its value next.
                following = el.getnext()
                if following is not None and isinstance(following.tag, str):
                    self._pair(found, own, page.text(following))
            tail = (el.tail or "").strip()
            if tail and len(tail) <= 40 and _any_label(tail) and el.getnext() is not None:
                # "Product #: <span>925872</span>": a label in running text, the value in the next element.
                self._pair(found, el.tail, page.text(el.getnext()))
            raw = page.content(el)
            # Template indentation inflates the raw text ("<div class=Label>SKU:</div>  <div
            # class=Value>  <span>…"): a long raw text counts by its non-blank characters.
            if len(raw) > 120 and (
                len(raw) > 800 or len(raw) - raw.count(" ") - raw.count("\n") - raw.count("\t") > 100
            ):
                continue
            if not _any_label(raw):
                continue
            text = page.text(el)
            if not text:
                continue
            # "<li><span>SKU</span><span>123</span></li>" and "<p>SKU: 123</p>" read alike.
            children = [c for c in el if isinstance(c.tag, str)]
            if len(children) == 2 and not (el.text or "").strip():
                self._pair(found, page.text(children[0]), page.text(children[1]))
            self._line(found, text)
        return found

    @staticmethod
    def _pair(found: dict[str, str], label: str, value: str) -> None:
        label = label.strip()
        if not label or not value or len(label) > 40:
            return
        for name, pattern in _CELL_LABELS.items():
            if name not in found and pattern.match(label):
                cleaned = _clean_value(name, value)
                if cleaned:
                    found[name] = cleaned
                return

    @staticmethod
    def _line(found: dict[str, str], text: str) -> None:
        for name, pattern in _LABELS.items():
            if name in found:
                continue
            match = pattern.match(text)
            if match:
                cleaned = _clean_value(name, match.group(1))
                if cleaned:
                    found[name] = cleaned
        for name, pattern in _TEXT_LABELS.items():
            if name not in found:
                match = pattern.match(text)
                if match:
                    cleaned = _clean_value(name, match.group(1))
                    if cleaned:
                        found[name] = cleaned

    @cached_property
    def data_sku(self) -> str | None:
        page = self.page
        for el in page.main_elements:
            get = page.attrs(el).get
            if not any(get(a) for a in _SKU_ATTRS) or self._in_other_offers(el):
                continue
            for attr in _SKU_ATTRS:
                value = clean_sku(get(attr))
                if value:
                    return value
        return None

    @cached_property
    def brand(self) -> str | None:
        """The brand the page shows: a "Brand:" row, else the crumb after a "Brands" crumb, else a
        short brand element or brand-page link next to the heading ("by <a href=/brands/acme>Acme</a>")."""
        if self.labelled.get("brand"):
            return self.labelled["brand"]
        crumbs = self.breadcrumbs
        for crumb, following in pairwise(crumbs):
            if _BRANDS_CRUMB.match(crumb):
                return _clean_value("brand", following)
        page, heading = self.page, self.heading
        if heading is None or heading not in page.order:
            return None
        here = page.order[heading]
        window = page.main_elements[max(0, here - 15) : here + 16]
        for el in window:
            if el is not heading and (found := self._brand_element(el)):
                return found
        # A brand element the theme hides beside the heading (VTEX's "brandName" div) is still the
        # shop's statement, like markup; only the heading's own neighbours are looked at.
        parent = heading.getparent()
        siblings = list(parent)[:30] if parent is not None else []
        for sibling in siblings:
            if sibling is heading or not isinstance(sibling.tag, str):
                continue
            for el in sibling.iter():
                if isinstance(el.tag, str) and (found := self._brand_element(el)):
                    return found
        # A short element beside the heading naming one of the brands the shop's own brand menu
        # lists ("<h1>Copper Shade</h1><h2>Tom Dixon</h2>" with "Tom Dixon" under "Shop by brand").
        listed = self._listed_brands
        if listed:
            for el in window:
                text = page.text(el)
                if el is not heading and el.tag != "option" and text.casefold() in listed:
                    return text
        return None

    def _brand_element(self, el: etree._Element) -> str | None:
        """The brand an element names by its class/id ("product-brand") or as a brand-page link."""
        page, heading = self.page, self.heading
        get = page.attrs(el).get
        marker = " ".join(filter(None, (get("class"), get("id"), get("itemprop"), get("data-testid"))))
        by_class = _BRAND_ATTR.search(marker) and not _NOT_BRAND_ATTR.search(marker)
        by_link = el.tag == "a" and _BRAND_LINK.search(get("href") or "")
        if not (by_class or by_link):
            return None
        text = _BY_WORDS.sub("", page.text(el)).strip()
        if 2 <= len(text) <= 40 and not text.isdigit() and text != page.text(heading):
            return _clean_value("brand", text)
        return None

    @cached_property
    def _listed_brands(self) -> set[str]:
        """Brand names the site lists in its own navigation: a brand drop-down ("Shop by brand")
        or links to brand pages, anywhere on the page (menus are site chrome, not main area)."""
        page, names = self.page, set()
        for select in page.body.iter("select"):
            get = page.attrs(select).get
            if _BRAND_ATTR.search(" ".join(filter(None, (get("name"), get("id"), get("class"))))):
                for option in select.iter("option"):
                    value = option.get("value")
                    text = page.text(option)
                    if value not in (None, "", "0") and 1 < len(text) <= 40:
                        names.add(text.casefold())
        for link in page.body.iter("a"):
            if _BRAND_LINK.search(link.get("href") or ""):
                text = page.text(link)
                if 1 < len(text) <= 40:
                    names.add(text.casefold())
        return names

    # --- breadcrumbs, images, text ----------------------------------------------------------------

    @cached_property
    def breadcrumbs(self) -> list[str]:
        page = self.page
        for el in page.body.iter():
            if not isinstance(el.tag, str) or el.tag in ("script", "style", "body", "html"):
                continue
            marker = " ".join(filter(None, (el.get("class"), el.get("id"), el.get("aria-label"))))
            if not _BREADCRUMB_MARKER.search(marker):
                continue
            items = [page.text(i) for i in el.iter("li")] or [page.text(a) for a in el.iter("a")]
            items = [i for i in items if i and len(i) < 80 and i not in ("/", ">", "»", "›")]
            if len(items) >= 2:
                return items
        return []

    @cached_property
    def gallery_images(self) -> list[str]:
        out: list[str] = []
        page = self.page
        for el in page.main_elements:
            if el.tag != "img":
                continue
            context = " ".join(
                filter(
                    None, [_class_or_id(page.attrs(n)) for n in islice(chain((el,), el.iterancestors()), 4)]
                )
            )
            if not _gallery_context(context):
                continue
            get = page.attrs(el).get
            link = (
                get("data-zoom-image") or get("data-large_image") or get("data-src") or get("src") or ""
            ).strip()
            absolute = page.absolute(link)
            if absolute and not _NOT_GALLERY_IMAGE.search(absolute) and absolute not in out:
                out.append(absolute)
            if len(out) >= 10:
                break
        return out

    @cached_property
    def description(self) -> str | None:
        page = self.page
        for el in page.main_elements:
            get = page.attrs(el).get
            marker = " ".join(filter(None, (get("class"), get("id"))))
            if _description_marker(marker):
                text = page.text(el)
                if len(text) >= 20:
                    return text[:5000]
        return None


def _submits_cart_form(el: etree._Element, get, form: etree._Element | None, page: Page) -> bool:
    """A submit/image control (or a plain <button>) of a form whose action adds to the cart."""
    if form is None or el.tag == "a":
        return False
    if el.tag == "button" and (get("type") or "submit").lower() != "submit":
        return False
    action = page.attrs(form).get("action") or ""
    return bool(_CART_FORM_ACTION.search(action)) and not _NOT_CART_FORM_ACTION.search(action)


def _labelled_stock(page: Page, label: etree._Element) -> str:
    """The availability a stock label states: its tail ("<b>Availability:</b> In stock") or the next
    element ("<div>Current Stock:</div><div>67</div>"); a bare count is in stock above zero."""
    value = (label.tail or "").strip()
    if not value:
        following = label.getnext()
        if following is None or not isinstance(following.tag, str):
            return "unknown"
        value = page.text(following)
    if not value or len(value) > 60:
        return "unknown"
    verdict = normalise_availability(value)
    if verdict == "unknown" and _STOCK_COUNT.match(value):
        return "in_stock" if int(re.match(r"\d+", value).group()) > 0 else "out_of_stock"
    return verdict


def _class_or_id(attrs: Mapping[str, str]) -> str:
    return attrs.get("class") or attrs.get("id") or ""


def _tax_basis(page: Page, el: etree._Element) -> str | None:
    """ "net"/"gross" when the price element, its containers or the label before it say so."""
    for depth, node in enumerate(chain((el,), el.iterancestors())):
        if depth > 3 or node.tag in ("body", "html"):
            break
        get = page.attrs(node).get
        attrs = " ".join(filter(None, (get("class"), get("id"))))
        if attrs and _net_attr(attrs):
            return "net"
        if attrs and _gross_attr(attrs):
            return "gross"
        if len(page.content(node)) <= 80:
            text = page.text(node)
            if _NET_TEXT.search(text):
                return "net"
            if _GROSS_TEXT.search(text):
                return "gross"
    return None


# A unit price: an amount per measure ("/ kg", "per 100 ml", "je Liter", "le kg"); "each"/"per item"
# is the item's own price and does not count.
_PER_UNIT = re.compile(
    r"^\s*(?:/|\bper\b|\bpro\b|\bje\b|\ble\b|\bpor\b|\bal\b|за)?\s*(?:\d+(?:[.,]\d+)?\s*)?"
    r"(?:kg|g|gr|mg|l|ltr|lt|liter|litre|ml|cl|dl|m|m2|m²|m³|cm|mm|lb|lbs|oz|fl\.?\s*oz|qm|kilo|кг|л)\b\.?\s*\)?\s*$"
    r"|(?:/|\bper\b|\bpro\b|\bje\b|\ble\b|за)\s*(?:\d+(?:[.,]\d+)?\s*)?"
    r"(?:kg|g|gr|mg|l|ltr|liter|litre|ml|cl|dl|m|m2|m²|m³|lb|lbs|oz|fl\.?\s*oz|qm|kilo|кг|л)\b",
    re.I,
)
_CENTS = re.compile(r"^[.,]?\d{2}$")
_STRUCK = ("del", "s", "strike")


def _superscript_cents(el: etree._Element) -> tuple[etree._Element, Decimal] | None:
    """(the <sup>, its amount) when a price shows its cents as a superscript ("249<sup>99</sup>")."""
    for sup in el.iter("sup"):
        text = (sup.text or "").strip()
        if len(sup) == 0 and _CENTS.match(text):
            return sup, Decimal(text.lstrip(".,")) / 100
    return None


def _shown_price_text(page: Page, el: etree._Element, skip: etree._Element | None = None) -> str:
    """The element's text without struck-through parts ("<del>1 299 Kč</del> 1 099 Kč" is 1 099 Kč)
    and without `skip`; the plain text when nothing is left out."""
    if skip is None and not any(True for _ in el.iter(*_STRUCK)):
        return page.text(el)
    parts: list[str] = []

    def walk(node: etree._Element) -> None:
        if node is not el and (node is skip or node.tag in _STRUCK or not isinstance(node.tag, str)):
            return
        parts.append(node.text or "")
        for child in node:
            walk(child)
            parts.append(child.tail or "")

    walk(el)
    return clean_text(" ".join(parts))


def _with_split_parts(page: Page, el: etree._Element, text: str) -> str:
    """Text of the nearest ancestor holding the whole price when `el` is one part of it
    ("<span>$</span><span class=whole>24</span>.<span class=fraction>99</span>")."""
    for node in islice(el.iterancestors(), 2):
        whole = page.text(node)
        if _looks_like_price(whole) and _HAS_CURRENCY.search(whole):
            return whole
    return text


@lru_cache(maxsize=8192)
def _looks_like_price(text: str) -> bool:
    """A short text that is a price and little else ("250 € VB", "From $12 – $38"), not a sentence."""
    text = clean_text(text)
    if not text or len(text) > 45 or "%" in text or not _DIGIT.search(text):
        return False
    numbers = _NUMBER_RUN.findall(text)
    words = _WORD_RUN.findall(text)
    return len(numbers) <= 2 and sum(len(w) for w in words) <= 14


def _machine_amount(el: etree._Element, attrs: Mapping[str, str] | None = None) -> Decimal | None:
    get = (el.attrib if attrs is None else attrs).get
    for attr in ("content", "data-price-amount", "data-price", "data-value", "data-amount", "value"):
        raw = get(attr)
        if raw and (attr != "value" or el.tag in ("data", "meta")):
            amount = parse_amount(raw)
            if amount is not None and amount > 0:
                return amount
    return None


def _clean_value(name: str, value: str) -> str | None:
    value = clean_text(value)
    if name == "gtin":
        return normalise_gtin(value)
    if name in ("sku", "product_id", "mpn"):
        token = clean_sku(value if name == "mpn" else value.split(" ")[0])
        # Codes have digits or are upper-case ("PC-POST"); anything else is a word, not an identifier.
        if token and (
            _DIGIT.search(token) or _UPPER_CODE.fullmatch(token) or (name == "mpn" and len(token) >= 3)
        ):
            return token
        return None
    if name == "condition":
        return normalise_condition(value) if normalise_condition(value) != "unknown" else None
    value = _NEXT_LABEL.split(value, maxsplit=1)[0].strip()
    return value if 1 < len(value) <= 60 else None


def heading_text(visible: VisiblePage) -> str | None:
    return visible.page.text(visible.heading) if visible.heading is not None else None


def strip_home(crumbs: list[str], name: str | None) -> list[str]:
    out = [clean_text(c) for c in crumbs if clean_text(c)]
    while out and _HOME_CRUMB.match(out[0]):
        out.pop(0)
    if out and name and _same_text(out[-1], name):
        out.pop()
    return out


def _same_text(a: str, b: str) -> bool:
    return _NON_WORD.sub("", a).lower() == _NON_WORD.sub("", b).lower()
