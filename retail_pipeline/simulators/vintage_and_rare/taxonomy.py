"""What a Vintage & Rare item can be: V&R's own top categories over the shared product tree's musical
instruments (`simulators.taxonomy_data`), and the brands the site knows.

V&R's top categories (Guitars, Basses, Amps, Effects, Keyboards, Drums, Pro Audio, Other) are not the
shared tree's, so each names the branches of the tree it gathers; their leaves are its subcategories.
Ids are small stable numbers, as the site's select options carry them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from .. import catalogue_data, taxonomy_data

_MUSIC = "musical-instruments"
# V&R top category -> the shared tree's branches (below Musical Instruments) whose leaves it lists.
_TOP_CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Guitars", ("guitars-basses/guitars",)),
    ("Basses", ("guitars-basses/basses",)),
    ("Amps", ("amplifiers-effects/amplifiers",)),
    ("Effects", ("amplifiers-effects/effects",)),
    ("Keyboards", ("keyboards-pianos/keyboards",)),
    ("Drums", ("drums-percussion/drums",)),
    ("Pro Audio", ("pro-audio/recording",)),
    ("Other", ("guitars-basses/guitar-parts", "band-orchestra/wind-strings")),
)


@dataclass(frozen=True)
class Subcategory:
    id: int
    name: str
    category_id: int


@dataclass(frozen=True)
class Category:
    id: int
    name: str
    subcategories: tuple[Subcategory, ...]

    def subcategory(self, subcategory_id: int) -> Subcategory | None:
        return next((s for s in self.subcategories if s.id == subcategory_id), None)


@cache
def categories() -> tuple[Category, ...]:
    tree = taxonomy_data.by_key()
    out = []
    for number, (name, branches) in enumerate(_TOP_CATEGORIES, start=1):
        category_id = number * 10
        leaves = [
            node
            for branch in branches
            for node in taxonomy_data.leaves()
            if node.key.startswith(f"{_MUSIC}/{branch}/")
        ]
        if not all(f"{_MUSIC}/{branch}" in tree for branch in branches) or not leaves:
            raise RuntimeError(f"V&R category {name!r}: the shared tree has no {branches}")
        subs = tuple(
            Subcategory(category_id * 100 + index, node.name, category_id)
            for index, node in enumerate(leaves, start=1)
        )
        out.append(Category(category_id, name, subs))
    return tuple(out)


def category(category_id: int) -> Category | None:
    return next((c for c in categories() if c.id == category_id), None)


def category_named(name: str) -> Category | None:
    wanted = name.strip().casefold()
    return next((c for c in categories() if c.name.casefold() == wanted), None)


# The makers V&R dealers list most, plus every music-gear brand of the simulated suppliers' catalogue.
_KNOWN_BRANDS = (
    "Fender", "Gibson", "Gretsch", "Rickenbacker", "Martin", "Taylor", "Guild", "Yamaha", "Ibanez", "PRS",
    "Epiphone", "Squier", "Jackson", "Charvel", "ESP", "LTD", "Schecter", "Danelectro", "Harmony", "Kay",
    "Silvertone", "Hofner", "Burns", "Framus", "Hagstrom", "Eastman", "Collings", "Larrivee", "Ovation",
    "Takamine", "National", "Dobro", "Music Man", "G&L", "Suhr", "Mosrite", "Teisco", "Aria", "Washburn",
    "Peavey", "Vox", "Marshall", "Orange", "Hiwatt", "Laney", "Mesa/Boogie", "Ampeg", "Matchless",
    "Dr. Z", "Supro", "Magnatone", "Sunn", "Roland", "Korg", "Moog", "Sequential", "Oberheim", "Nord",
    "Hammond", "Leslie", "Rhodes", "Wurlitzer", "Arp", "Akai", "Boss", "Electro-Harmonix", "MXR",
    "Dunlop", "TC Electronic", "Strymon", "Eventide", "Walrus Audio", "JHS",
    "Klon", "Ludwig", "Gretsch Drums", "Slingerland", "Rogers", "Pearl", "Tama", "DW", "Sonor",
    "Zildjian", "Sabian", "Paiste", "Neumann", "Shure", "AKG", "Sennheiser", "Universal Audio", "Neve",
    "API", "Teletronix", "Focusrite", "Tascam", "Fostex", "Selmer", "Conn", "Bach",
)  # fmt: skip
_MUSIC_CATALOGUE_CATEGORIES = ("guitars-basses", "music-gear")


@cache
def brands() -> tuple[str, ...]:
    catalogue = {
        brand
        for cat in catalogue_data.CATEGORIES
        if cat.slug in _MUSIC_CATALOGUE_CATEGORIES
        for brand in cat.models
    }
    return tuple(sorted(set(_KNOWN_BRANDS) | catalogue, key=str.casefold))


def canonical_brand(name: str) -> str | None:
    """The site's spelling of a brand typed in any case, or None when V&R does not know it."""
    wanted = " ".join(name.split()).casefold()
    return next((b for b in brands() if b.casefold() == wanted), None)


def suggest_brands(query: str, limit: int = 10) -> list[str]:
    """Brands starting with what was typed first, then those containing it."""
    wanted = " ".join(query.split()).casefold()
    if not wanted:
        return []
    starts = [b for b in brands() if b.casefold().startswith(wanted)]
    contains = [b for b in brands() if wanted in b.casefold() and b not in starts]
    return (starts + contains)[:limit]
