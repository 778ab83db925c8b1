"""Simulated shoppers for the marketplaces: who buys, where it ships, and why a purchase can fail.

Every marketplace simulator's `buy(sku, quantity, buyer)` hook takes a `Buyer` (or draws one) and
raises `NotBuyable` when the channel would not sell. Addresses are Canadian, with well-formed postal
codes, because labels are bought from Canada Post (seed 004).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, Field


class NotBuyable(LookupError):
    """No live listing for the SKU, or not enough stock: the market picks something else."""


@dataclass(frozen=True)
class Buyer:
    first_name: str
    last_name: str
    email: str
    phone: str
    address1: str
    city: str
    province_code: str
    province: str
    zip: str
    address2: str = ""
    country_code: str = "CA"
    country: str = "Canada"

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class BuyRequest(BaseModel):
    """The body of a simulator's `POST /_control/buy`."""

    sku: str
    quantity: int = Field(1, ge=1)
    buyer: Buyer | None = None


class ForeignListingRequest(BaseModel):
    """The body of a simulator's `POST /_control/foreign_listings`: a listing we did not make."""

    title: str
    sku: str | None = None
    price: Decimal = Decimal("49.00")
    quantity: int = Field(1, ge=1)


_FIRST = ("Olivia", "Liam", "Emma", "Noah", "Chloe", "Ethan", "Maya", "Lucas", "Ava", "Owen", "Leah", "Arjun")
_LAST = ("Tremblay", "Martin", "Roy", "Wilson", "MacDonald", "Singh", "Nguyen", "Chen", "Gagnon", "Brown")
_PLACES = (  # street, city, province code, province, postal code
    ("88 Queen St W", "Toronto", "ON", "Ontario", "M5H 2N2"),
    ("1200 Rue Sainte-Catherine O", "Montréal", "QC", "Quebec", "H3B 1K1"),
    ("455 Granville St", "Vancouver", "BC", "British Columbia", "V6C 1T1"),
    ("301 8 Ave SW", "Calgary", "AB", "Alberta", "T2P 1C5"),
    ("10150 100 St NW", "Edmonton", "AB", "Alberta", "T5J 0P6"),
    ("150 Elgin St", "Ottawa", "ON", "Ontario", "K2P 1L4"),
    ("1505 Barrington St", "Halifax", "NS", "Nova Scotia", "B3J 3K5"),
    ("201 Portage Ave", "Winnipeg", "MB", "Manitoba", "R3B 3K6"),
)


_FIRST_DE = ("Lena", "Jonas", "Mia", "Felix", "Hannah", "Lukas", "Emilia", "Paul", "Sophie", "Ben")
_LAST_DE = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann")
_PLACES_DE = (  # street, city, postcode (German addresses have no state line)
    ("Friedrichstraße 43", "Berlin", "10117"),
    ("Neuer Wall 19", "Hamburg", "20354"),
    ("Sendlinger Straße 7", "München", "80331"),
    ("Hohe Straße 52", "Köln", "50667"),
    ("Zeil 106", "Frankfurt am Main", "60313"),
    ("Königstraße 28", "Stuttgart", "70173"),
)


def random_buyer(rng: random.Random, country: str = "CA") -> Buyer:
    """A shopper in Canada (the marketplaces that sell to Canadians) or Germany (Kaufland.de's)."""
    if country == "DE":
        first, last = rng.choice(_FIRST_DE), rng.choice(_LAST_DE)
        street, city, postcode = rng.choice(_PLACES_DE)
        number = rng.randint(100, 999)
        return Buyer(
            first_name=first,
            last_name=last,
            email=f"{first.lower()}.{number}@example.de",
            phone=f"+49 30 5550 {number}",
            address1=street,
            city=city,
            province_code="",
            province="",
            zip=postcode,
            country_code="DE",
            country="Germany",
        )
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    street, city, province_code, province, postal = rng.choice(_PLACES)
    number = rng.randint(100, 999)
    return Buyer(
        first_name=first,
        last_name=last,
        email=f"{first.lower()}.{last.lower()}{number}@example.ca",
        phone=f"+1 416 555 0{number}",
        address1=street,
        address2=f"Unit {number % 40 + 1}" if number % 3 == 0 else "",
        city=city,
        province_code=province_code,
        province=province,
        zip=postal,
    )
