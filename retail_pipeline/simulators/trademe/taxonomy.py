"""Trade Me's catalogue methods over the shared product tree (`simulators.taxonomy_data`).

- `GET /v1/Categories.json` (and `/v1/Categories/{number}.json`): a Category tree {Name, Number, Path,
  Subcategories, IsLeaf, ...}, `depth` limiting it (0: the category alone);
- `GET /v1/Search/Suggestions.json?search_string=…&max_category_suggestions=`: SearchSuggestions with
  `CategorySuggestions` [{Id, Name, AncestorsNames}] best first (no score, as on Trade Me), plus empty
  AutoSuggestions / RecentSearches; authenticated and rate limited, as documented;
- `GET /v1/Categories/{category}/Details.json`: CategoryDetails {CategoryId, Name, Path, ..., Attributes
  [{Name, DisplayName, Type, Options [{Value, Display}], IsRequiredForSell, MaxStringLength, GroupName}]};
  `{category}` is the numeric id or the "0002-0356-" number; unknown: 404 ErrorDescription.

Ids: each node has a four-digit segment (from its key, unique across the tree); its Number is its path's
segments ("0002-0356-0412-"), its Id the last one as a number, as Trade Me plans its ids.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from .. import taxonomy_data

ATTRIBUTE_STRING = 4  # AttributeType.String
MAX_STRING = 50


@cache
def segments() -> dict[str, int]:
    """Node key → its four-digit segment, unique (a clash moves on to the next free number)."""
    taken: set[int] = set()
    out = {}
    for node in taxonomy_data.nodes():
        n = node.number(4) or 1
        while n in taken:
            n = n % 9999 + 1
        taken.add(n)
        out[node.key] = n
    return out


def number(node: taxonomy_data.Node) -> str:
    by_key, seg = taxonomy_data.by_key(), segments()
    keys = []
    key: str | None = node.key
    while key is not None:
        keys.append(key)
        key = by_key[key].parent_key
    return "".join(f"{seg[k]:04d}-" for k in reversed(keys))


@cache
def by_id() -> dict[str, taxonomy_data.Node]:
    """Numeric id and Number → node."""
    out = {}
    for node in taxonomy_data.nodes():
        out[str(segments()[node.key])] = node
        out[number(node)] = node
    return out


def find(category: str) -> taxonomy_data.Node | None:
    return by_id().get(category.strip())


def attribute_name(name: str) -> str:
    """An attribute's Name (an identifier) from its display name: "Storage Capacity" → "StorageCapacity"."""
    return "".join(part[:1].upper() + part[1:] for part in re.findall(r"[A-Za-z0-9]+", name))


def path(node: taxonomy_data.Node) -> str:
    return "/" + "/".join(re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-") for name in node.path)


def category(node: taxonomy_data.Node | None, depth: int | None) -> dict[str, Any]:
    """A Category; None is the fictional Root holding the top level."""
    if node is None:
        children = [n for n in taxonomy_data.nodes() if n.depth == 1]
        body: dict[str, Any] = {"Name": "Root", "Number": "", "Path": "", "IsLeaf": False}
    else:
        children = [n for n in taxonomy_data.nodes() if n.parent_key == node.key]
        body = {"Name": node.name, "Number": number(node), "Path": path(node), "IsLeaf": node.leaf}
    body |= {"IsRestricted": False, "HasLegalNotice": False, "HasClassifieds": False, "AreaOfBusiness": 1}
    if children and (depth is None or depth > 0):
        body["Subcategories"] = [category(c, None if depth is None else depth - 1) for c in children]
    return body


def suggestions(search: str, limit: int) -> dict[str, Any]:
    found = taxonomy_data.rank(search, limit=limit) if search.strip() else []
    return {
        "RecentSearches": [],
        "AutoSuggestions": [],
        "CategorySuggestions": [
            {"Id": segments()[node.key], "Name": node.name, "AncestorsNames": list(node.path[:-1])}
            for node, _ in found
        ],
    }


def details(node: taxonomy_data.Node) -> dict[str, Any]:
    attributes = []
    for aspect in node.aspects:
        attribute: dict[str, Any] = {
            "Name": attribute_name(aspect.name),
            "DisplayName": aspect.name,
            "Type": ATTRIBUTE_STRING,
            "IsRequiredForSell": aspect.required,
            "GroupName": "Details",
        }
        if aspect.values:
            attribute["Options"] = [{"Value": v, "Display": v} for v in aspect.values]
        else:
            attribute["MaxStringLength"] = MAX_STRING
        attributes.append(attribute)
    return {
        "CategoryId": segments()[node.key],
        "Name": node.name,
        "Path": path(node),
        "IsRestricted": False,
        "IsWine": False,
        "CanListAuctions": node.leaf,
        "CanListClassifieds": False,
        "CanRelist": True,
        "AuthenticatedBidsOnly": False,
        "DefaultDuration": 7,
        "AllowedDurations": [2, 3, 4, 5, 6, 7, 10],
        "Fees": {"Listing": 0, "Subtitle": 0.55, "Gallery": 0, "Highlight": 0},
        "FreePhotoCount": 20,
        "MaximumPhotoCount": 20,
        "Attributes": attributes,
    }


def required_attributes(category_value: str) -> tuple[str, ...] | None:
    """The attribute Names a listing in this category must carry; None: not a category of the tree."""
    node = find(category_value)
    return None if node is None else tuple(attribute_name(a.name) for a in node.required())
