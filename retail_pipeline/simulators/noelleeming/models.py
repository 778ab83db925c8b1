"""Noel Leeming's shop: new electronics and appliances, one product per model and colour."""

from __future__ import annotations

import re

from ..catalogue import CatalogueSnapshot, Product, ProductState, SupplierProfile
from ..catalogue_data import CATEGORY_BY_SLUG, Category
from ..storefront import StorefrontBackend


def _sku(key: int) -> str:
    return f"N{200_000 + key * 7 + key % 7}"


PROFILE = SupplierProfile(
    name="noelleeming",
    categories={
        "mobile-phones": 3,
        "laptops": 2.5,
        "tablets": 1.5,
        "tvs": 2,
        "headphones-audio": 2,
        "small-kitchen-appliances": 2,
        "whiteware": 1.5,
        "vacuums": 1,
        "gaming": 1.5,
        "cameras": 1,
        "phone-accessories": 2,
    },
    conditions={"New": 1},
    ref=_sku,
)

PAGE_SIZE = 24


def photo_filename(product: Product, number: int) -> str:
    return f"{product.ref}_{number}.jpg"


_PHOTO_FILENAME = re.compile(r"(?P<sku>N\d+)_(?P<number>\d+)\.jpg")


class NoelLeemingStore(StorefrontBackend):
    profile = PROFILE

    @property
    def categories(self) -> list[Category]:
        return [CATEGORY_BY_SLUG[slug] for slug in PROFILE.categories]

    @staticmethod
    def in_category(snapshot: CatalogueSnapshot, slug: str) -> list[ProductState]:
        return snapshot.derived(
            ("category", slug), lambda: [s for s in snapshot if s.product.category.slug == slug]
        )

    @staticmethod
    def uses_graph(product: Product) -> bool:
        """Half the product templates wrap JSON-LD in an @graph with breadcrumbs, as sites mix both."""
        return product.key % 2 == 1

    @staticmethod
    def photo(snapshot: CatalogueSnapshot, filename: str) -> tuple[ProductState | None, int]:
        match = _PHOTO_FILENAME.fullmatch(filename)
        if match is None:
            return None, 0
        return snapshot.by_ref(match["sku"]), int(match["number"])
