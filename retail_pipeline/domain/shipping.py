"""Which carrier and service ship an order, and what the parcel weighs: pure functions over config.

An order ships from where its products sit (one location, so one origin country) to its buyer's country.
Each carrier declares the routes it serves (`CARRIER_ROUTES`: Canada Post only from Canada; the manual
carrier, an operator entering the tracking number, from New Zealand).

Rules map `"[<origin>/]<channel>:<country>"` to `"<carrier>:<service code>"`; channel and country may
be `*`, a key without an origin applies to every origin. The most specific rule wins: origin-specific
before any origin, then channel+country, any channel+country, channel+any country, `*:*`; a rule whose
carrier does not serve the route is passed over, and with none left the order has no carrier
(`NoCarrierRule`, an ops task: no label is bought). Defaults: from Canada, Canada Post's Expedited
Parcel (DOM.EP) at home, Expedited Parcel USA (USA.EP) to the United States, Xpresspost International
(INT.XP) elsewhere; from New Zealand, the manual carrier.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

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
    "NZ/*:*": "manual:courier",
}


@dataclass(frozen=True)
class Routes:
    """The routes one carrier serves: from these origin countries, to these destinations (None = any)."""

    origins: frozenset[str]
    destinations: frozenset[str] | None = None

    def serves(self, origin: str, destination: str) -> bool:
        return origin in self.origins and (self.destinations is None or destination in self.destinations)


# Only carriers listed here can be chosen. Canada Post mails from Canada only (its rating and shipping
# calls take a Canadian origin postal code); no New Zealand carrier API is wired, so NZ parcels go with
# a courier booked by hand and the operator enters its tracking number.
CARRIER_ROUTES: dict[str, Routes] = {
    "canada_post": Routes(frozenset({"CA"})),
    "manual": Routes(frozenset({"NZ"})),
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


def _country(value: str | None) -> str:
    return (value or "").strip().upper() or "*"


def choose_carrier(
    channel: str,
    country: str | None,
    rules: Mapping[str, str] = DEFAULT_RULES,
    *,
    origin: str = "CA",
    routes: Mapping[str, Routes] = CARRIER_ROUTES,
) -> CarrierChoice:
    """The carrier and service for an order of `channel` shipping from `origin` to `country` (ISO
    alpha-2): the most specific rule whose carrier serves that route."""
    country, origin = _country(country), _country(origin)
    passed_over: list[str] = []
    for prefix in (f"{origin}/", ""):
        for key in (f"{channel}:{country}", f"*:{country}", f"{channel}:*", "*:*"):
            if prefix + key not in rules:
                continue
            choice = parse_rule(rules[prefix + key])
            carrier_routes = routes.get(choice.carrier)
            if carrier_routes is not None and carrier_routes.serves(origin, country):
                return choice
            passed_over.append(f"{prefix}{key} → {choice.carrier}")
    why = (
        f" (rules passed over, their carrier does not serve it: {', '.join(passed_over)})"
        if passed_over
        else ""
    )
    raise NoCarrierRule(f"no carrier serves {channel} from {origin} to {country}{why}")


class MixedOrigins(ValueError):
    pass


def ship_from(line_locations: list[str | None], default: str) -> str:
    """The one location an order ships from: its lines' locations (None = unknown, the `default`). An
    order whose lines sit in different locations has no single origin (split it by hand)."""
    found = sorted({location or default for location in line_locations}) or [default]
    if len(found) > 1:
        raise MixedOrigins(f"the order's products sit in different locations: {', '.join(found)}")
    return found[0]


@dataclass(frozen=True)
class RouteDecision:
    """Where an order ships from (a location code) and with what; `problem` says why it cannot ship."""

    origin: str | None
    choice: CarrierChoice | None
    problem: str | None = None


def route_order(
    channel: str,
    destination: str | None,
    line_locations: list[str | None],
    location_countries: Mapping[str, str],
    *,
    default_location: str,
    rules: Mapping[str, str] = DEFAULT_RULES,
    routes: Mapping[str, Routes] = CARRIER_ROUTES,
    inactive: frozenset[str] = frozenset(),
) -> RouteDecision:
    """The ship-from location and carrier of one order: its lines' one location (`ship_from`, unknown →
    `default_location`), that location's country as the origin, and `choose_carrier` over the rules."""
    try:
        origin = ship_from(line_locations, default_location)
    except MixedOrigins as error:
        return RouteDecision(None, None, str(error))
    if origin not in location_countries:
        return RouteDecision(origin, None, f"ship-from location {origin!r} does not exist")
    if origin in inactive:
        return RouteDecision(origin, None, f"ship-from location {origin!r} is inactive")
    try:
        choice = choose_carrier(channel, destination, rules, origin=location_countries[origin], routes=routes)
    except NoCarrierRule as error:
        return RouteDecision(origin, None, str(error))
    return RouteDecision(origin, choice)


# The couriers an operator may name when entering a hand-booked parcel's tracking number: the channel
# is told that carrier with its tracking page, so each needs a name on every channel
# (`carrier_names` in channels/*.py).
MANUAL_COURIERS = ("nz_post",)
_TRACKING_NUMBER = re.compile(r"[A-Z0-9]{6,40}")


def normalise_tracking_number(value: str) -> str:
    """A courier's tracking number as we store it: upper case, without the spaces and dashes labels print
    between groups; 6 to 40 letters and digits (what every channel takes; some refuse anything else).
    ValueError says what is wrong."""
    compact_value = re.sub(r"[\s-]+", "", value or "").upper()
    if not compact_value:
        raise ValueError("the tracking number is empty")
    if not _TRACKING_NUMBER.fullmatch(compact_value):
        raise ValueError(f"tracking number {value.strip()[:60]!r} is not 6 to 40 letters and digits")
    return compact_value
