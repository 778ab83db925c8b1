"""Cash Converters' shop: one-off second-hand items across stores, sold and gone within days."""

from __future__ import annotations

from ..catalogue import CatalogueSnapshot, ProductState, SupplierProfile
from ..catalogue_data import CASH_CONVERTERS_STORES, CATEGORY_BY_SLUG, Category
from ..storefront import StorefrontBackend


def _item_number(key: int) -> str:
    return str(4_000_000 + key * 13 + key % 13)


PROFILE = SupplierProfile(
    name="cashconverters",
    categories={
        "mobile-phones": 3,
        "laptops": 1.5,
        "tablets": 1,
        "headphones-audio": 1,
        "power-tools": 3,
        "guitars-basses": 2,
        "music-gear": 2,
        "gaming": 2,
        "cameras": 1.5,
        "tvs": 0.5,
    },
    conditions={"Used - Excellent": 3, "Used - Good": 5, "Used - Fair": 2, "Refurbished": 1},
    ref=_item_number,
    unique_models=False,  # three used DS-1 pedals at three stores is normal here
    gtin_share=0.15,  # a barcode only when the box came in with the item
    stores=CASH_CONVERTERS_STORES,
    sale_rate=0.15,  # markdowns on slow movers
    out_of_stock_rate=0.0,  # a one-off item is listed until it sells, then it is gone
    max_quantity=1,
    mean_lifetime_days=12,
    arrivals_per_day=0.08,
)

PAGE_SIZE = 24


class CashConvertersStore(StorefrontBackend):
    profile = PROFILE

    @property
    def categories(self) -> list[Category]:
        return [CATEGORY_BY_SLUG[slug] for slug in PROFILE.categories]

    @staticmethod
    def search(snapshot: CatalogueSnapshot, category: str) -> list[ProductState]:
        """Newest first, as the site sorts by default; an empty category means everything."""
        return snapshot.derived(
            ("search", category),
            lambda: [
                s for s in reversed(snapshot.products) if not category or s.product.category.slug == category
            ],
        )
