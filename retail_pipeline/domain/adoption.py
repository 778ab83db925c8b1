"""Which of our products a remote listing we did not make is (pure; no I/O).

A shop that already sells on a channel has listings we never created. Each is matched to the catalogue:

1. our SKU, exactly (the channel stores the SKU with the listing): exact;
2. its GTIN/EAN/UPC, compared as GTIN-14 with a valid check digit: exact when exactly one product has
   it, a proposal when several do;
3. brand + model + title similarity: at best a proposal ("likely"), never an exact match: linking a
   listing to the wrong product would let us reprice or withdraw somebody else's item, so a person
   confirms anything that rests on words alone.

`CatalogueIndex` is built once per reconciliation and blocks candidates by SKU, GTIN, model number and
rare title tokens, so matching 10,000 listings against tens of thousands of products never compares
all pairs: each listing is scored against at most `MAX_SCORED` products that share something rare.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

MatchKind = Literal["exact", "likely", "none"]

# A candidate scores 0..1: TITLE_WEIGHT × token overlap (Dice) + BRAND_WEIGHT when the brands agree +
# MODEL_WEIGHT when the model numbers agree. A different brand rules a candidate out.
TITLE_WEIGHT = 0.5
BRAND_WEIGHT = 0.2
MODEL_WEIGHT = 0.3
# Proposed to the operator from here: same brand and model with any title (0.5), or a title that
# shares most of its words (Dice ≥ 0.9) without either. Below, the guess would waste a person's time.
LIKELY_MIN = 0.5
MAX_CANDIDATES = 3  # what the operator is shown to pick from
# Blocking: a title token found in more products than this says little (think "guitar", "black") and
# is not used to find candidates (it still counts in the score).
MAX_POSTINGS = 300
RAREST_TOKENS = 6  # a listing's rarest tokens that look for candidates
MAX_SCORED = 20  # products scored per listing: those sharing the most rare tokens
STOPWORDS = frozenset({"a", "an", "and", "the", "with", "for", "of", "in", "on", "to", "by", "w"})
_SPLIT = re.compile(r"[^a-z0-9]+")


class Candidate(NamedTuple):
    product_id: int
    score: float
    why: str


@dataclass(frozen=True)
class Match:
    kind: MatchKind
    product_id: int | None  # set for an exact match
    reason: str
    candidates: tuple[Candidate, ...] = ()


@dataclass(frozen=True)
class CatalogueProduct:
    product_id: int
    sku: str
    title: str | None = None
    brand: str | None = None
    gtin: str | None = None
    mpn: str | None = None


@dataclass(frozen=True)
class ListingFacts:
    """What matching reads of a remote listing (RemoteListing's fields of the same names)."""

    sku: str | None = None
    gtin: str | None = None
    brand: str | None = None
    mpn: str | None = None
    title: str | None = None


def gtin14(value: object) -> str | None:
    """A GTIN-8/12/13/14 (UPC, EAN) as 14 digits, or None when it is not one (wrong length, bad check
    digit): an invalid code must never match anything."""
    if value is None:
        return None
    digits = re.sub(r"[\s-]", "", str(value))
    if not (digits.isascii() and digits.isdigit()) or len(digits) not in (8, 12, 13, 14):
        return None
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    if -total % 10 != int(digits[-1]):
        return None
    return digits.zfill(14)


def tokens(text: str | None) -> frozenset[str]:
    """Lower-case ASCII words of a title, without filler words."""
    if not text:
        return frozenset()
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return frozenset(t for t in _SPLIT.split(folded) if t and t not in STOPWORDS)


def compact(text: str | None) -> str:
    """A brand or model number without case, accents, spaces or punctuation ("AM-Strat 1" → "amstrat1")."""
    folded = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]", "", folded)


def dice(a: frozenset[str], b: frozenset[str]) -> float:
    return 2 * len(a & b) / (len(a) + len(b)) if a and b else 0.0


@dataclass
class CatalogueIndex:
    """The catalogue, indexed for matching: build once (`build`), then `match` each listing."""

    products: dict[int, CatalogueProduct] = field(default_factory=dict)
    by_sku: dict[str, int] = field(default_factory=dict)
    by_gtin: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_model: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_token: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    title_tokens: dict[int, frozenset[str]] = field(default_factory=dict)
    brand_keys: dict[int, str] = field(default_factory=dict)
    model_keys: dict[int, str] = field(default_factory=dict)
    model_words: dict[int, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, products: Iterable[CatalogueProduct]) -> CatalogueIndex:
        index = cls()
        for product in products:
            index.add(product)
        return index

    def add(self, product: CatalogueProduct) -> None:
        pid = product.product_id
        self.products[pid] = product
        self.by_sku[product.sku] = pid
        if code := gtin14(product.gtin):
            self.by_gtin[code].append(pid)
        self.brand_keys[pid] = compact(product.brand)
        self.model_keys[pid] = model = compact(product.mpn)
        self.model_words[pid] = tokens(product.mpn)
        if model:
            self.by_model[model].append(pid)
        words = tokens(product.title) | tokens(product.brand) | self.model_words[pid]
        self.title_tokens[pid] = words
        for word in words:
            self.by_token[word].append(pid)

    def match(self, listing: ListingFacts) -> Match:
        if listing.sku and (pid := self.by_sku.get(listing.sku.strip())) is not None:
            return Match("exact", pid, f"our SKU {listing.sku}", (Candidate(pid, 1.0, "same SKU"),))
        code = gtin14(listing.gtin)
        if code and (owners := self.by_gtin.get(code)):
            if len(owners) == 1:
                return Match("exact", owners[0], f"GTIN {code}", (Candidate(owners[0], 1.0, "same GTIN"),))
            shared = tuple(Candidate(pid, 0.9, f"GTIN {code}, shared by {len(owners)} products")
                           for pid in sorted(owners)[:MAX_CANDIDATES])  # fmt: skip
            return Match("likely", None, f"GTIN {code} belongs to {len(owners)} products", shared)
        candidates = self._similar(listing)
        if candidates and candidates[0].score >= LIKELY_MIN:
            alike = f"{len(candidates)} product{'s' if len(candidates) > 1 else ''}"
            return Match("likely", None, f"{alike} alike by brand, model or title", candidates)
        return Match("none", None, "no product with this SKU, GTIN, brand and model or title")

    def _similar(self, listing: ListingFacts) -> tuple[Candidate, ...]:
        words = tokens(listing.title) | tokens(listing.brand) | tokens(listing.mpn)
        model = compact(listing.mpn)
        shared: Counter[int] = Counter()
        if model:
            for pid in self.by_model.get(model, ()):
                shared[pid] += RAREST_TOKENS  # the same model number outranks any title words
        usable = [w for w in words if 0 < len(self.by_token.get(w, ())) <= MAX_POSTINGS]
        for word in sorted(usable, key=lambda w: len(self.by_token[w]))[:RAREST_TOKENS]:
            shared.update(self.by_token[word])
        brand = compact(listing.brand)
        scored = []
        for pid, _ in shared.most_common(MAX_SCORED):
            candidate = self._score(pid, words, brand, model)
            if candidate is not None:
                scored.append(candidate)
        scored.sort(key=lambda c: (-c.score, c.product_id))
        return tuple(scored[:MAX_CANDIDATES])

    def _score(self, pid: int, words: frozenset[str], brand: str, model: str) -> Candidate | None:
        ours = self.title_tokens[pid]
        their_brand = self.brand_keys[pid]
        if brand and their_brand and brand != their_brand:
            return None  # a different maker is never the same item
        same_brand = bool(their_brand) and (brand == their_brand or (not brand and their_brand in words))
        their_model = self.model_keys[pid]
        same_model = bool(their_model) and (
            model == their_model or (not model and self.model_words[pid] <= words)
        )
        title = dice(words, ours)
        score = round(TITLE_WEIGHT * title + BRAND_WEIGHT * same_brand + MODEL_WEIGHT * same_model, 3)
        why = ", ".join(
            part
            for part in (
                "same brand" if same_brand else "",
                "same model" if same_model else "",
                f"title {title:.0%} alike",
            )
            if part
        )
        return Candidate(pid, score, why)
