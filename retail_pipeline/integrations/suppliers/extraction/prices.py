"""Price, currency, availability and condition normalisation for scraped product data (pure, no I/O).

`price-parser` does the heavy lifting for human-written prices; this module only adds what it gets
wrong on shop pages: HTML entities and template placeholders, typographic apostrophes as thousands
separators, non-ASCII digits, "free" in several languages, machine-readable amounts, and mapping the
currency it finds (a symbol, a code, a local abbreviation) to an ISO 4217 code.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from price_parser import Price

# ISO 4217 codes a shop page may plausibly carry (active currencies).
ISO_CURRENCIES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
    GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
    KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD
    NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD
    SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES
    VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL""".split()  # noqa: SIM905 - a table, not a sentence
)

# Symbols and local abbreviations that name exactly one currency. Bare "$", "kr", "Rs" and "R" are
# deliberately absent: they are ambiguous, and the caller resolves them from another hint.
_CURRENCY_SYMBOLS = {
    "€": "EUR",
    "£": "GBP",
    "₤": "GBP",
    "¥": "JPY",
    "円": "JPY",
    "元": "CNY",
    "rmb": "CNY",
    "₹": "INR",
    "zł": "PLN",
    "zl": "PLN",
    "kč": "CZK",
    "₽": "RUB",
    "руб": "RUB",
    "руб.": "RUB",
    "р.": "RUB",
    "₴": "UAH",
    "грн": "UAH",
    "грн.": "UAH",
    "₪": "ILS",
    "฿": "THB",
    "₫": "VND",
    "rp": "IDR",
    "rm": "MYR",
    "₩": "KRW",
    "원": "KRW",
    "ft": "HUF",
    "lei": "RON",
    "лв": "BGN",
    "лв.": "BGN",
    "₺": "TRY",
    "tl": "TRY",
    "kn": "HRK",
    "₱": "PHP",
    "ر.س": "SAR",
    "د.إ": "AED",
    "ج.م": "EGP",
    "ج.م.": "EGP",
    "l.e": "EGP",  # Egyptian pound as Egyptian shops write it ("L.E 12.00")
    "l.e.": "EGP",
    "dhs": "AED",
    "د.ك": "KWD",
    "ر.ق": "QAR",
    "ر.ع.": "OMR",
    "د.ب": "BHD",
    "₦": "NGN",
    "₸": "KZT",
    "₾": "GEL",
    "₼": "AZN",
    "ksh": "KES",
    "fr.": "CHF",
    "sfr": "CHF",
    "us$": "USD",
    "u$s": "USD",
    "nz$": "NZD",
    "a$": "AUD",
    "au$": "AUD",
    "c$": "CAD",
    "ca$": "CAD",
    "hk$": "HKD",
    "s$": "SGD",
    "r$": "BRL",
    "mx$": "MXN",
    "nt$": "TWD",
    "rs.": "INR",
    "₨": "PKR",
    "din": "RSD",
    "дин": "RSD",
    "ден": "MKD",
    "kwd": "KWD",
}

# Country-code top-level domains whose shops price in one currency; resolves "$" and "kr".
_TLD_CURRENCY = {
    "nz": "NZD",
    "au": "AUD",
    "ca": "CAD",
    "us": "USD",
    "uk": "GBP",
    "de": "EUR",
    "fr": "EUR",
    "es": "EUR",
    "it": "EUR",
    "nl": "EUR",
    "be": "EUR",
    "at": "EUR",
    "ie": "EUR",
    "pt": "EUR",
    "fi": "EUR",
    "gr": "EUR",
    "sk": "EUR",
    "si": "EUR",
    "lt": "EUR",
    "lv": "EUR",
    "ee": "EUR",
    "lu": "EUR",
    "hr": "EUR",
    "pl": "PLN",
    "cz": "CZK",
    "ch": "CHF",
    "se": "SEK",
    "no": "NOK",
    "dk": "DKK",
    "is": "ISK",
    "jp": "JPY",
    "cn": "CNY",
    "in": "INR",
    "br": "BRL",
    "mx": "MXN",
    "ar": "ARS",
    "cl": "CLP",
    "co": "COP",
    "hu": "HUF",
    "ro": "RON",
    "bg": "BGN",
    "ru": "RUB",
    "ua": "UAH",
    "tr": "TRY",
    "il": "ILS",
    "za": "ZAR",
    "sg": "SGD",
    "hk": "HKD",
    "tw": "TWD",
    "kr": "KRW",
    "th": "THB",
    "vn": "VND",
    "id": "IDR",
    "my": "MYR",
    "ph": "PHP",
    "pk": "PKR",
    "ae": "AED",
    "sa": "SAR",
    "eg": "EGP",
    "lb": "LBP",
    "rs": "RSD",
    "pe": "PEN",
}

_TEMPLATE_JUNK = re.compile(r"\{\{.*?\}\}|\$\{.*?\}|\{%.*?%\}|\[\[.*?\]\]|<%.*?%>|__[A-Z_]+__")
_FREE_WORDS = re.compile(
    r"^\W*(free|gratis|kostenlos|gratuit|gratuito|darmowy|za darmo|bezpłatnie|無料|免费|бесплатно|zdarma|ilmainen)\W*$",
    re.I,
)
_MACHINE_AMOUNT = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")
_CODE_IN_TEXT = re.compile(r"(?<![A-Za-z])([A-Z]{3})(?![A-Za-z])")
_DOLLAR_PREFIX = re.compile(r"(?i)\b(nz|us|au|a|c|ca|hk|s|r|mx|nt)\s?\$")
_TYPOGRAPHIC_THOUSANDS = re.compile(r"(?<=\d)[’‘ʼ′](?=\d{3})")


def clean_text(value: str) -> str:
    """Undo HTML entities (twice: shops double-escape), drop template placeholders, normalise spaces and digits."""
    if value.isascii() and "&" not in value and not _may_hold_placeholder(value):
        # The common case, answered without the passes below (none of them could change it): plain
        # ASCII holds no entity, placeholder, non-ASCII digit or typographic apostrophe. `split()`
        # splits on exactly the characters the whitespace pattern below matches.
        return " ".join(value.split())
    # A str subclass (lxml's "smart" strings hold their element) must not be kept as a cache key.
    return _clean_text(value if type(value) is str else str(value))


def _may_hold_placeholder(text: str) -> bool:
    # Every _TEMPLATE_JUNK alternative needs one of these.
    return "{" in text or "[[" in text or "<%" in text or "__" in text


@functools.lru_cache(maxsize=4096)
def _clean_text(value: str) -> str:
    text = html.unescape(html.unescape(value))
    text = _TEMPLATE_JUNK.sub(" ", text)
    # Arabic-Indic, Devanagari, full-width… digits become ASCII so the number parser sees them.
    if not text.isascii():
        text = "".join(str(unicodedata.digit(ch)) if ch.isdigit() and not ch.isascii() else ch for ch in text)
        text = text.replace("٫", ".").replace("٬", ",")
        # Swiss-style typographic apostrophes are thousands separators; price-parser only knows "'".
        text = _TYPOGRAPHIC_THOUSANDS.sub("'", text)
    return " ".join(text.split())  # the same as collapsing [\s\u00a0\u202f\u2009\u2007]+ and stripping


def currency_code(raw: str | None) -> str | None:
    """ISO 4217 code for a currency symbol, code or local abbreviation; None when unknown or ambiguous."""
    if not raw:
        return None
    token = clean_text(str(raw)).strip().strip(":").strip()
    if token.upper() in ISO_CURRENCIES:
        return token.upper()
    lowered = token.lower()
    if lowered in _CURRENCY_SYMBOLS:
        return _CURRENCY_SYMBOLS[lowered]
    prefixed = _DOLLAR_PREFIX.search(token)
    if prefixed:
        return _CURRENCY_SYMBOLS.get(prefixed.group(1).lower() + "$")
    for symbol, code in _CURRENCY_SYMBOLS.items():
        # Single-character symbols are unambiguous anywhere in the string ("€", "£", "₹").
        if len(symbol) == 1 and symbol in token:
            return code
    match = _CODE_IN_TEXT.search(token)
    if match and match.group(1) in ISO_CURRENCIES:
        return match.group(1)
    return None


def currency_from_host(host: str | None) -> str | None:
    """Currency implied by a shop's country-code domain (for "$" and "kr", which name no country)."""
    if not host:
        return None
    tld = host.lower().rstrip(".").rsplit(".", 1)[-1]
    return _TLD_CURRENCY.get(tld)


def parse_amount(value: object) -> Decimal | None:
    """A machine-readable amount (schema.org `price`, `content` attributes): "1234.50" is never 123450."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return None
        return amount if amount.is_finite() and amount >= 0 else None
    text = clean_text(str(value))
    if _MACHINE_AMOUNT.match(text):
        amount = Decimal(text)
        return amount if amount >= 0 else None
    return parse_price(text)[0]


def parse_price(text: object, hint_currency: str | None = None) -> tuple[Decimal | None, str | None]:
    """Amount and ISO currency from a human-written price ("NZ$1,299.00", "1.234,56 €", "from $12").

    `hint_currency` is what the caller knows besides the text (an ISO code, a symbol, or the label
    next to the price). Ranges and "from" prices give their first/lowest amount; "Free" gives 0.
    A bare "$" or "kr" gives no currency unless the hint resolves it.
    """
    if text is None:
        return None, currency_code(hint_currency)
    if isinstance(text, (int, float, Decimal)) and not isinstance(text, bool):
        return parse_amount(text), currency_code(hint_currency)
    cleaned = clean_text(str(text))
    hint = clean_text(hint_currency) if hint_currency else None
    return _parse_clean_price(cleaned, hint)


@functools.lru_cache(maxsize=4096)
def _parse_clean_price(cleaned: str, hint: str | None) -> tuple[Decimal | None, str | None]:
    # Pure in its (string) arguments, and pages repeat their price texts: cached.
    if _FREE_WORDS.match(cleaned):
        return Decimal(0), currency_code(hint)
    parsed = Price.fromstring(cleaned, currency_hint=hint)
    amount = parsed.amount
    if amount is not None and amount < 0:
        amount = None
    currency = currency_code(parsed.currency) if parsed.currency else None
    if currency is None:
        currency = currency_code(hint) or _currency_in_text(cleaned)
    return amount, currency


def _currency_in_text(text: str) -> str | None:
    """A currency written as its own word next to the number (price-parser misses "ر.س", "Ft", …)."""
    prefixed = _DOLLAR_PREFIX.search(text)
    if prefixed:
        return currency_code(prefixed.group(0))
    for token in re.split(r"[\s\d,'*()/]+", text):
        if token == "LE":
            return "EGP"  # Egyptian pound as Egyptian shops write it ("LE 329"); upper case only, not French "le"
        token = token.strip(".:") if token.count(".") != 1 or len(token) < 3 else token
        if token and (token.lower() in _CURRENCY_SYMBOLS or token.upper() in ISO_CURRENCIES):
            return currency_code(token)
    return None


# --- availability and condition -------------------------------------------------------------------

AVAILABILITY_VALUES = (
    "in_stock",
    "out_of_stock",
    "preorder",
    "backorder",
    "discontinued",
    "limited",
    "unknown",
)
CONDITION_VALUES = ("new", "refurbished", "used", "damaged", "unknown")

# Checked in order: the more specific phrases ("not in stock", "nicht verfügbar") before the generic
# ones they contain ("in stock", "verfügbar").
_AVAILABILITY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (value, re.compile(pattern, re.I))
    for value, pattern in (
        (
            "discontinued",
            r"discontinued|no longer available|auslaufartikel|nicht mehr (erhältlich|lieferbar)"
            r"|descatalogado|fuori produzione|plus disponible|wycofany|販売終了|生産終了",
        ),
        (
            "preorder",
            r"pre-?order|presale|vorbestell|précommande|pré-commande|preventa|prenotazione|przedsprzedaż"
            r"|予約",
        ),
        (
            "backorder",
            r"back-?order|nachbestell|on order|en réapprovisionnement|bajo pedido|su ordinazione"
            r"|na zamówienie|取り寄せ",
        ),
        (
            "out_of_stock",
            r"out[ _-]?of[ _-]?stock|sold[ _-]?out|soldout|unavailable|not available|not in stock"
            r"|no stock|currently unavailable|ausverkauft|nicht (auf lager|verfügbar|lieferbar|vorrätig)"
            r"|vergriffen|rupture|épuisé|epuise|indisponible|non disponible|agotad[oa]s?|se agotó|sin stock"
            r"|no disponible|vyprodáno|není skladem|loppuunmyyty|loppu varastosta|udsolgt"
            r"|esaurito|non disponibile|niedostępny|niedostępna|brak w magazynie|wyprzedany|wyprzedane"
            r"|uitverkocht|niet op voorraad|slutsåld|ikke på lager|utsolgt|esgotado|indisponível|在庫なし|在庫切れ"
            r"|品切れ|売り切れ|完売|缺货|нет в наличии|tükendi|stokta yok|^oos$|^false$|^0$",
        ),
        (
            "limited",
            r"limited|low stock|only \d+ left|few left|wenige|nur noch|derniers articles|pocas unidades"
            r"|ultimi pezzi|ostatnie sztuki|残りわずか",
        ),
        (
            "in_stock",
            r"in[ _-]?stock|instock|available|auf lager|lagernd|vorrätig|verfügbar|lieferbar|en stock"
            r"|disponible|en existencia|disponibile|dostępny|dostępna|na stanie|w magazynie|op voorraad|leverbaar"
            r"|i lager|på lager|på lager|em estoque|disponível|在庫あり|有货|в наличии|stokta|^true$|^yes$|^1$"
            r"|online ?only|in ?store ?only|instoreonly|onlineonly",
        ),
    )
)

_CONDITION_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (value, re.compile(pattern, re.I))
    for value, pattern in (
        (
            "damaged",
            r"damaged|for parts|not working|defekt|beschädigt|endommagé|dañado|danneggiato|uszkodzony"
            r"|ジャンク",
        ),
        (
            "refurbished",
            r"refurb|renewed|remanufactured|generalüberholt|aufbereitet|reconditionn|reacondicionado"
            r"|ricondizionato|odnowiony|b-?stock|b-?ware|open[ -]?box|seller refurbished|再生品|整備済",
        ),
        (
            "used",
            r"used|pre-?owned|second[ -]?hand|gebraucht|occasion|d'occasion|usado|usato|używany|używana"
            r"|tweedehands|begagnad|brugt|brukt|中古|б/у|vintage|like new|wie neu|comme neuf|como nuevo",
        ),
        (
            "new",
            r"\bnew\b|newcondition|brand new|\bneu\b|neuf|neuve|nuevo|nueva|nuovo|nowy|nowa|nieuw|\bny\b"
            r"|novo|新品|новый|sealed",
        ),
    )
)


def _schema_name(value: object) -> str:
    """'https://schema.org/InStock' -> 'InStock'; '  Used - Good ' -> 'Used - Good'."""
    text = clean_text(str(value))
    return _SCHEMA_PREFIX.sub("", text).strip()


_SCHEMA_PREFIX = re.compile(r"^(https?://)?(www\.)?schema\.org/|^schema:", re.I)


def normalise_availability(value: object) -> str:
    """One of AVAILABILITY_VALUES from a schema.org URL/name, an OpenGraph value or shop wording."""
    if value is None or value == "":
        return "unknown"
    if isinstance(value, bool):
        return "in_stock" if value else "out_of_stock"
    # Pages say the same few things ("Add to cart", "In stock") over and over: strings are cached.
    return _availability_of(value) if type(value) is str else _availability_of.__wrapped__(value)


@functools.lru_cache(maxsize=8192)
def _availability_of(value: object) -> str:
    text = _schema_name(value)
    compact = text.lower().replace(" ", "").replace("_", "").replace("-", "")
    exact = {
        "instock": "in_stock",
        "outofstock": "out_of_stock",
        "soldout": "out_of_stock",
        "preorder": "preorder",
        "presale": "preorder",
        "backorder": "backorder",
        "discontinued": "discontinued",
        "limitedavailability": "limited",
        "instoreonly": "in_stock",
        "onlineonly": "in_stock",
        "madetoorder": "backorder",
        "reserved": "out_of_stock",
        "pending": "unknown",
    }
    if compact in exact:
        return exact[compact]
    for normalised, pattern in _AVAILABILITY_PATTERNS:
        if pattern.search(text):
            return normalised
    return "unknown"


def normalise_condition(value: object) -> str:
    """One of CONDITION_VALUES from a schema.org URL/name, an OpenGraph value or shop wording."""
    if value is None or value == "":
        return "unknown"
    return _condition_of(value) if type(value) is str else _condition_of.__wrapped__(value)


@functools.lru_cache(maxsize=4096)
def _condition_of(value: object) -> str:
    text = _schema_name(value)
    for normalised, pattern in _CONDITION_PATTERNS:
        if pattern.search(text):
            return normalised
    return "unknown"
