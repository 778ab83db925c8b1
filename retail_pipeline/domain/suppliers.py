"""The suppliers the business starts with (seed 000, 003), and where each one's site is."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SupplierConfig:
    code: str  # also the Dagster partition key
    name: str
    adapter: str  # how its catalogue is read: shopify_storefront | jsonld | html | webhook | generic
    base_url: str | None  # the real site; None for push-only suppliers
    simulator_prefix: str | None = None  # where the simulators serve its stand-in
    enrichment_blocked_reason: str | None = None
    config: dict = field(default_factory=dict)
    location: str | None = None  # the retail.locations code its stock arrives at (set when first added)

    @property
    def enrichment_blocked(self) -> bool:
        return self.enrichment_blocked_reason is not None


DEFAULT_SUPPLIERS: tuple[SupplierConfig, ...] = (
    SupplierConfig(
        "onecheq", "OneCheq", "shopify_storefront", "https://onecheq.co.nz", "onecheq", location="nz_auckland"
    ),
    SupplierConfig(
        "noel_leeming",
        "Noel Leeming",
        "jsonld",
        "https://www.noelleeming.co.nz",
        "noelleeming",
        location="nz_auckland",
    ),  # fmt: skip
    SupplierConfig(
        "cash_converters",
        "Cash Converters",
        "html",
        "https://www.cashconverters.co.nz",
        "cashconverters",
        enrichment_blocked_reason="second-hand stock: listings keep the store's own description (seed 002 policy)",
        location="nz_auckland",
    ),
    SupplierConfig("allegro", "Allegro (via n8n webhook)", "webhook", None),
)


def effective_base_url(
    code: str,
    stored_base_url: str | None,
    *,
    use_simulators: bool,
    simulator_url: str,
    overrides: dict[str, str],
) -> str | None:
    """Where to fetch a supplier from: an explicit override, else the simulator, else its real site."""
    if code in overrides:
        return overrides[code].rstrip("/")
    prefix = next((s.simulator_prefix for s in DEFAULT_SUPPLIERS if s.code == code), None)
    if use_simulators and prefix:
        return f"{simulator_url.rstrip('/')}/{prefix}"
    return stored_base_url
