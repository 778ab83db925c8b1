"""Exchange-rate sources: the European Central Bank's euro reference rates."""

from .ecb import EcbClient, EcbSettings, FxError, parse_eurofxref

__all__ = ["EcbClient", "EcbSettings", "FxError", "parse_eurofxref"]
