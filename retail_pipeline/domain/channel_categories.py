"""Choosing a product's category on a channel, and the attributes that category takes: pure functions.

The `channel_categories` asset asks a channel's taxonomy (`channels.plugin.Taxonomy`) for suggestions,
then decides here:

- **confidence**: a channel that ranks suggestions without a score, or gives no suggestions at all (we
  rank its flat category list ourselves: `rank_locally`), gets one
  computed from where the channel ranked the category and how much of its path the product's own words
  name (`path_match`). A leaf whose name the product names ("Headphones" for "... Wireless Headphones")
  scores high; one that only shares the branch ("Electronics > Audio") scores low.
- **the choice** (`choose`): the top suggestion when its confidence reaches `min_confidence` and it is
  `margin` ahead of the second; otherwise the operator picks (an ops task with the candidates), and a
  channel with no candidate at all blocks the draft ("<channel title> has no category for this product").
  Never a silent default.
- **attributes**: the category's schema (`CategoryAttributes.schema`, a JSON Schema object) becomes the
  LLM's strict structured-output schema (`strict_schema`: every property present, each nullable, so
  the model says null rather than invent); what the channel requires and the answer left null is
  `missing_required`, and blocks that channel's draft naming each field.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from retail_pipeline.channels.plugin import CategoryQuery, CategorySuggestion

RULES_VERSION = "categories-1"
ATTRIBUTES_PROMPT_VERSION = "attributes-1"
# Defaults for CATEGORY_MIN_CONFIDENCE and CATEGORY_MARGIN (settings.py). With `suggestion_confidence`,
# 0.6 takes the channel's first suggestion only with some word of the product's own behind it (its
# leaf or its branch named by the title, keywords or description; the channel's rank alone is 0.55,
# and with only our coarse category naming the branch 0.59: "Guitars & Basses" must not put a
# guitar among the basses); with `rank_locally` (no channel ranking) most of the leaf's name. The margin leaves two equally good leaves
# ("Electric Guitars" and "Acoustic Guitars" for a "Guitars" product) for a person to decide.
MIN_CONFIDENCE = 0.6
MARGIN = 0.1
MAX_CANDIDATES = 5
DESCRIPTION_EXCERPT = 300
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "for",
        "with",
        "of",
        "in",
        "on",
        "to",
        "by",
        "from",
        "new",
        "used",
        "other",
        "others",
        "accessories",
        "parts",
        "&",
        "-",
        "/",
        "x",
    ]
)
_RANK_PRIOR = (0.55, 0.35, 0.25, 0.15, 0.05)  # the channel's own ordering, where it gives one


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", (text or "").lower()) if len(w) > 1 and w not in _STOP}


def _forms(word: str) -> set[str]:
    """The word in the singular and the plural ("fridge", "fridges"; "box", "boxes")."""
    forms = {word, word + "s", word + "es"}
    if word.endswith("es"):
        forms.add(word[:-2])
    if word.endswith("s"):
        forms.add(word[:-1])
    return forms


def _share(names: Iterable[str], vocabulary: set[str]) -> float:
    wanted = set().union(*(words(n) for n in names)) if names else set()
    if not wanted:
        return 0.0
    return sum(1 for w in wanted if _forms(w) & vocabulary) / len(wanted)


def query_for(
    *,
    title: str,
    brand: str | None,
    category: str | None,
    gtin: str | None = None,
    mpn: str | None = None,
    keywords: Sequence[str] = (),
    description: str = "",
) -> CategoryQuery:
    return CategoryQuery(
        title=title.strip(),
        brand=(brand or "").strip() or None,
        category=(category or "").strip() or None,
        gtin=gtin or None,
        mpn=mpn or None,
        keywords=tuple(k for k in keywords if k),
        description=" ".join((description or "").split())[:DESCRIPTION_EXCERPT],
    )


def search_text(query: CategoryQuery, *, with_category: bool = False) -> str:
    """What a channel's suggestion search is sent: the title, as a buyer would search; our category only
    for a title of one or two words, or `with_category` (a second search when the title found nothing):
    it names a branch, and pulls a search towards its words."""
    parts = [query.title]
    short = len(words(query.title)) < 3
    if (short or with_category) and query.category and query.category.lower() not in query.title.lower():
        parts.append(query.category)
    return " ".join(parts)[:350]


def own_words(query: CategoryQuery) -> set[str]:
    """The product's own words (title, keywords, description excerpt): what names a leaf."""
    return words(" ".join([query.title, query.brand or "", *query.keywords, query.description]))


def all_words(query: CategoryQuery) -> set[str]:
    """Its own words and our category's, which names a branch ("Guitars & Basses"), not a leaf."""
    return own_words(query) | words(query.category or "")


def query_hash(channel: str, query: CategoryQuery) -> str:
    body = {"rules": RULES_VERSION, "channel": channel, "query": query.__dict__}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=list).encode()).hexdigest()


def path_match(path: Sequence[str], query: CategoryQuery) -> float:
    """0..1: how much of the leaf's name the product's own words name (0.7), and of the branch below the
    top level (its parent and up) they name (0.3); our category naming either counts for 30% of that."""
    own, every = own_words(query), all_words(query)
    # Our category names branches ("Guitars & Basses" names two), so it counts for less, leaf and branch.
    leaf = 0.7 * _share([path[-1]], own) + 0.3 * _share([path[-1]], every)
    branch_names = list(path[1:-1]) if len(path) > 2 else list(path[:-1])
    if not branch_names:
        return round(leaf, 3)
    branch = 0.7 * _share(branch_names, own) + 0.3 * _share(branch_names, every)
    return round(0.7 * leaf + 0.3 * branch, 3)


def suggestion_confidence(rank: int, path: Sequence[str], query: CategoryQuery) -> float:
    """For a channel that ranks but does not score: its rank (0.55 for its first, 0.35 for its second,
    down to 0.05 for its fifth, 0 after) plus 0.45 × `path_match`. A first suggestion the product's
    words say nothing for stays at 0.55, under the default threshold."""
    prior = _RANK_PRIOR[rank] if rank < len(_RANK_PRIOR) else 0.0
    return round(min(1.0, prior + 0.45 * path_match(path, query)), 3)


def rank_locally(
    categories: Iterable[tuple[str, Sequence[str]]], query: CategoryQuery, limit: int = MAX_CANDIDATES
) -> list[CategorySuggestion]:
    """For a channel with no suggestion search: every (id, path) scored by `path_match`. A candidate's
    name must be named by the product's title, keywords or our category (a description mentions too
    much: a laptop's "backlit keyboard"): half of it with its branch named too, or all of a name of
    several words ("Digital Pianos")."""
    named = words(" ".join([query.title, query.brand or "", query.category or "", *query.keywords]))
    scored = []
    for category_id, path in categories:
        leaf = _share([path[-1]], named)
        branch = len(path) > 1 and _share(list(path[:-1]), named) > 0
        # A one-word name ("Mixers", "Strings") says too little alone: a stand mixer is no audio mixer.
        if not (branch and leaf >= 0.5) and not (leaf == 1 and len(words(path[-1])) > 1):
            continue
        scored.append(CategorySuggestion(category_id, " > ".join(path), path_match(path, query)))
    scored.sort(key=lambda s: (-s.confidence, s.path))
    return scored[:limit]


@dataclass(frozen=True)
class Choice:
    status: str  # chosen | needs_choice | no_category
    chosen: CategorySuggestion | None
    reason: str


def choose(
    suggestions: Sequence[CategorySuggestion],
    *,
    min_confidence: float = MIN_CONFIDENCE,
    margin: float = MARGIN,
) -> Choice:
    if not suggestions:
        return Choice("no_category", None, "no category suggested")
    ranked = sorted(suggestions, key=lambda s: -s.confidence)
    top = ranked[0]
    second = ranked[1].confidence if len(ranked) > 1 else 0.0
    if top.confidence < min_confidence:
        return Choice("needs_choice", None, f"best match {top.path} has confidence {top.confidence:.2f}")
    if top.confidence - second < margin:
        return Choice(
            "needs_choice",
            None,
            f"{top.path} ({top.confidence:.2f}) is not clearly ahead of {ranked[1].path} ({second:.2f})",
        )
    return Choice("chosen", top, f"confidence {top.confidence:.2f}")


def tied(
    suggestions: Sequence[CategorySuggestion], *, min_confidence: float, margin: float
) -> list[CategorySuggestion]:
    """The suggestions a model may choose between: those within `margin` of a top one that clears
    `min_confidence` (a channel's own order or our word match could not tell them apart); [] when the
    best is simply weak (that is the operator's call)."""
    ranked = sorted(suggestions, key=lambda s: -s.confidence)
    if len(ranked) < 2 or ranked[0].confidence < min_confidence:
        return []
    close = [s for s in ranked if ranked[0].confidence - s.confidence < margin]
    return close if len(close) > 1 else []


CHOICE_SCHEMA_NAME = "category_choice"
CHOICE_SYSTEM_PROMPT = (
    "You place one product in a marketplace category. The candidates are the marketplace's own categories. "
    "Answer the id of the candidate the product belongs in, or null when none of them clearly fits. Never guess."
)


def choice_messages(
    channel_title: str, candidates: Sequence[CategorySuggestion], payload: Mapping[str, Any]
) -> list[dict[str, str]]:
    data = {"candidates": [{"id": c.category_id, "path": c.path} for c in candidates], "product": payload}
    return [
        {"role": "system", "content": CHOICE_SYSTEM_PROMPT},
        {
            "role": "user",
            "content": f"Marketplace: {channel_title}.\n{json.dumps(data, ensure_ascii=False, sort_keys=True)}",
        },
    ]


def choice_schema(candidates: Sequence[CategorySuggestion]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "category_id": {"type": ["string", "null"], "enum": [*(c.category_id for c in candidates), None]}
        },
        "required": ["category_id"],
        "additionalProperties": False,
    }


def parse_choice(content: str | None, candidates: Sequence[CategorySuggestion]) -> str | None:
    """The chosen candidate's id, or None (the model says none fits); InvalidOutput otherwise."""
    from retail_pipeline.domain.enrichment import InvalidOutput

    try:
        answer = json.loads(content or "")
    except ValueError as error:
        raise InvalidOutput(f"invalid JSON: {error}") from error
    if not isinstance(answer, dict) or "category_id" not in answer:
        raise InvalidOutput("the answer lacks category_id")
    chosen = answer["category_id"]
    if chosen is not None and chosen not in {c.category_id for c in candidates}:
        raise InvalidOutput(f"{chosen!r} is not one of the candidates")
    return chosen


# --- attributes ------------------------------------------------------------------------------------


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The category's schema as a strict structured-output schema: closed, every property required and
    nullable (null: the product data does not say), required ones marked in their description."""
    required = set(schema.get("required") or ())
    properties = {}
    for name, prop in (schema.get("properties") or {}).items():
        prop = dict(prop)
        parts = ["Required by the marketplace." if name in required else "", prop.get("description", "")]
        prop["description"] = " ".join([*filter(None, parts), "null when the product data does not say."])
        if prop.get("type") == "array":
            properties[name] = {"anyOf": [prop, {"type": "null"}], "description": prop.pop("description")}
            continue
        kind = prop.get("type", "string")
        prop["type"] = [kind, "null"] if isinstance(kind, str) else [*kind, "null"]
        if "enum" in prop:
            prop["enum"] = [*prop["enum"], None]
        properties[name] = prop
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def parse_attributes(content: str | None, strict: Mapping[str, Any]) -> dict[str, Any]:
    """The model's answer: a JSON object with every property of the strict schema; InvalidOutput (ask
    again) otherwise."""
    from retail_pipeline.domain.enrichment import InvalidOutput

    try:
        answer = json.loads(content or "")
    except ValueError as error:
        raise InvalidOutput(f"invalid JSON: {error}") from error
    if not isinstance(answer, dict):
        raise InvalidOutput("the answer is not a JSON object")
    missing = [name for name in strict.get("properties") or {} if name not in answer]
    if missing:
        raise InvalidOutput(f"the answer lacks {', '.join(missing)}")
    return answer


def clean_attributes(schema: Mapping[str, Any], answer: Mapping[str, Any]) -> dict[str, Any]:
    """The answer's non-null values the schema allows (an enum value outside the list is dropped)."""
    out: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        value = answer.get(name)
        if value in (None, "", []):
            continue
        allowed = prop.get("enum") or (prop.get("items") or {}).get("enum")
        if isinstance(value, list):
            value = [v for v in value if v not in (None, "") and (not allowed or v in allowed)]
            if not value:
                continue
        elif allowed and value not in allowed:
            continue
        out[name] = value
    return out


def missing_required(schema: Mapping[str, Any], values: Mapping[str, Any]) -> list[str]:
    return [name for name in schema.get("required") or () if values.get(name) in (None, "", [])]


def known_values(brand: str | None, mpn: str | None, schema: Mapping[str, Any]) -> dict[str, Any]:
    """What we know without asking anyone: the brand and MPN the supplier gave."""
    props = schema.get("properties") or {}
    known = {}
    for name, value in (("Brand", brand), ("MPN", mpn)):
        if value and name in props and "enum" not in props[name]:
            known[name] = value
    return known


def attributes_input_hash(
    channel: str, category_id: str, schema: Mapping[str, Any], payload: Mapping[str, Any], model: str | None
) -> str:
    body = {
        "prompt": ATTRIBUTES_PROMPT_VERSION,
        "channel": channel,
        "category": category_id,
        "schema": schema,
        "product": payload,
        "model": model,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


ATTRIBUTES_SYSTEM_PROMPT = (
    "You fill a marketplace category's item attributes for one product. Answer JSON matching the schema. "
    "Use only facts stated in the product data; pick enum values only when the data says so; give null for "
    "anything the data does not state, even when the marketplace requires it. Never guess."
)


def attribute_messages(
    channel_title: str, category_path: str, payload: Mapping[str, Any]
) -> list[dict[str, str]]:
    data = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    return [
        {"role": "system", "content": ATTRIBUTES_SYSTEM_PROMPT},
        {
            "role": "user",
            "content": f"Marketplace: {channel_title}. Category: {category_path}.\nProduct data (JSON):\n{data}",
        },
    ]


def offline_fill(schema: Mapping[str, Any], payload: Mapping[str, Any]) -> dict[str, Any]:
    """Without an LLM: enum values whose words all appear in the product text, brand/MPN/model from the
    data, attributes of the same name; null otherwise (so required ones may stay missing)."""
    text = " ".join(str(v) for v in payload.values() if isinstance(v, str))
    attrs = {str(k).lower(): v for k, v in (payload.get("attributes") or {}).items()}
    text += " " + " ".join(str(v) for v in attrs.values())
    lowered = f" {' '.join(re.findall(r'[a-z0-9]+', text.lower()))} "
    out: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        allowed = prop.get("enum") or (prop.get("items") or {}).get("enum")
        value: Any = None
        if allowed:
            hits = [
                v for v in allowed if f" {' '.join(re.findall(r'[a-z0-9]+', str(v).lower()))} " in lowered
            ]
            if hits:
                value = hits if prop.get("type") == "array" else hits[0]
        elif name.lower() == "brand":
            value = payload.get("brand")
        elif name.lower() in ("mpn", "model"):
            value = payload.get("mpn") or attrs.get(name.lower())
        else:
            value = attrs.get(name.lower())
        out[name] = value if value not in ("", []) else None
    return out
