"""Which carrier and service ship an order, and what the parcel weighs: pure functions over config.

Rules map `"<channel>:<country>"` to `"<carrier>:<service code>"`; either side of the key may be `*`.
The most specific rule wins: channel+country, then any channel+country, then channel+any country,
then `*:*`. Canada Post is the first carrier and the default: domestic Expedited Parcel (DOM.EP),
Expedited Parcel USA (USA.EP) to the United States, Xpresspost International (INT.XP) elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal

# Our carriers, as people name them, and each one's public tracking page for a PIN.
CARRIER_NAMES = {
    "canada_post": "Canada Post", "nz_post": "NZ Post", "ups": "UPS", "fedex": "FedEx",
    "dhl": "DHL", "usps": "USPS", "manual": "our courier",
}  # fmt: skip
KNOWN_CARRIERS = frozenset(CARRIER_NAMES)
TRACKING_URLS = {
    "canada_post": "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={pin}",
    "ups": "https://www.ups.com/track?tracknum={pin}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={pin}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={pin}",
    "dhl": "https://www.dhl.com/en/express/tracking.html?AWB={pin}",
    "nz_post": "https://www.nzpost.co.nz/tools/tracking/item/{pin}",
}

DEFAULT_RULES: dict[str, str] = {
    "*:CA": "canada_post:DOM.EP",
    "*:US": "canada_post:USA.EP",
    "*:*": "canada_post:INT.XP",
}


@dataclass(frozen=True)
class CarrierChoice:
    carrier: str  # a retail.shipments.carrier value
    service_code: str


class NoCarrierRule(ValueError):
    pass


def parse_rule(value: str) -> CarrierChoice:
    carrier, sep, service = value.partition(":")
    if not sep or not service or carrier not in KNOWN_CARRIERS:
        raise NoCarrierRule(f"rule value {value!r} is not '<carrier>:<service code>' with a known carrier")
    return CarrierChoice(carrier, service)


def choose_carrier(
    channel: str, country: str | None, rules: Mapping[str, str] = DEFAULT_RULES
) -> CarrierChoice:
    """The carrier and service for an order of `channel` going to `country` (ISO alpha-2)."""
    country = (country or "").strip().upper() or "*"
    for key in (f"{channel}:{country}", f"*:{country}", f"{channel}:*", "*:*"):
        if key in rules:
            return parse_rule(rules[key])
    raise NoCarrierRule(f"no carrier rule for channel {channel!r} to country {country!r}")


def parcel_weight_kg(quantities: list[int], unit_weight_grams: int, packaging_grams: int = 0) -> Decimal:
    """Weight for the carrier in kg, rounded up to the gram (three decimals), never zero."""
    grams = max(1, sum(max(0, q) for q in quantities) * unit_weight_grams + packaging_grams)
    return (Decimal(grams) / 1000).quantize(Decimal("0.001"), rounding=ROUND_UP)
