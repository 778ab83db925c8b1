"""Orders placed on the simulators by a buyer, for tests that need a real channel order."""

from __future__ import annotations


def reverb_order(reverb, sku: str = "RV-1"):
    """A buyer's Reverb order of a listing made outside our pipeline (`reverb`: the Reverb backend)."""
    reverb.create_foreign_listing("Boss DS-1 Distortion", sku=sku, quantity=3)
    return reverb.buy(sku)
