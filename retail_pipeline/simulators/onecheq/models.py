"""OneCheq's shop: new and refurbished electronics, tools and gadgets, run on Shopify."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..catalogue import CatalogueSnapshot, Product, ProductState, SupplierProfile
from ..storefront import StorefrontBackend


def _sku(key: int) -> str:
    return f"OC-{100_000 + key * 7 + key % 7}"


PROFILE = SupplierProfile(
    name="onecheq",
    categories={
        "mobile-phones": 3,
        "laptops": 2,
        "tablets": 1.5,
        "headphones-audio": 2,
        "small-kitchen-appliances": 1.5,
        "vacuums": 1,
        "power-tools": 2,
        "gaming": 1.5,
        "cameras": 1,
        "phone-accessories": 2,
        # OneCheq also clears musical gear: what Reverb (musical instruments only) can list
        "guitars-basses": 3,
        "music-gear": 1.5,
    },
    conditions={"New": 7, "Refurbished": 3},
    ref=_sku,
    group_variants=True,
    condition_in_title=True,
)

# Shopify ids are large integers that grow with creation; these keep that shape.


def product_id(product: Product) -> int:
    return 7_412_000_000_000 + product.key * 1_031


def variant_id(product: Product, number: int) -> int:
    return 41_200_000_000_000 + product.key * 16 + number


def image_id(product: Product, number: int) -> int:
    return 32_100_000_000_000 + product.key * 16 + number


def photo_filename(product: Product, number: int) -> str:
    return f"{product.handle}_{number}.jpg"


_PHOTO_FILENAME = re.compile(r"(?P<handle>[a-z0-9-]+)_(?P<number>\d+)\.jpg")


class OneCheqStore(StorefrontBackend):
    profile = PROFILE
    sitemap_urls_per_file = 5_000  # Shopify starts a new sitemap_products_N.xml past this many

    def sitemap_files(self, snapshot: CatalogueSnapshot) -> list[Sequence[ProductState]]:
        size = self.sitemap_urls_per_file
        products = snapshot.products
        return [products[i : i + size] for i in range(0, len(products), size)] or [()]

    @staticmethod
    def photo(snapshot: CatalogueSnapshot, filename: str) -> tuple[ProductState | None, int]:
        match = _PHOTO_FILENAME.fullmatch(filename)
        if match is None:
            return None, 0
        return snapshot.by_handle(match["handle"]), int(match["number"])
