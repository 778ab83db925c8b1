"""eBay's Taxonomy API (commerce/taxonomy/v1) over the shared product tree (`simulators.taxonomy_data`).

- `GET /commerce/taxonomy/v1/get_default_category_tree_id?marketplace_id=EBAY_US` → BaseCategoryTree
  (`categoryTreeId` "0" for EBAY_US, as eBay's; other marketplaces their own ids);
- `GET .../category_tree/{category_tree_id}/get_category_suggestions?q=` → CategorySuggestionResponse:
  leaves best first, each `category` {categoryId, categoryName}, `categoryTreeNodeLevel` and
  `categoryTreeNodeAncestors` from the immediate parent up to the top level, no score (eBay's
  `relevancy` is "reserved for internal or future use" and not returned);
- `GET .../category_tree/{category_tree_id}/get_item_aspects_for_category?category_id=` → AspectMetadata:
  `aspects` [{localizedAspectName, aspectConstraint {aspectDataType, aspectMode FREE_TEXT|SELECTION_ONLY,
  aspectRequired, aspectUsage, itemToAspectCardinality SINGLE|MULTI, aspectEnabledForVariations},
  aspectValues [{localizedValue}]}]; a non-leaf is eBay's 62009, an unknown id 62005.

Category ids are eBay-style numbers: six digits from the node's key (`Node.number()`), stable as the tree
grows. The gateway checks the bearer token (any token holding `https://api.ebay.com/oauth/api_scope`: an
application token from the client-credentials grant does) and counts the call against the quota.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from .. import taxonomy_data
from .exceptions import EbayError, ErrorDetail

TAXONOMY = "/commerce/taxonomy/v1"
TREE_IDS = {"EBAY_US": "0", "EBAY_MOTORS": "100", "EBAY_CA": "2", "EBAY_GB": "3", "EBAY_AU": "15",
            "EBAY_DE": "77", "EBAY_FR": "71", "EBAY_IT": "101", "EBAY_ES": "186"}  # fmt: skip
TREE_VERSION = "131"
MAX_SUGGESTIONS = 10


def taxonomy_error(error_id: int, message: str, status: int = 400) -> EbayError:
    category = "APPLICATION" if error_id == 62000 else "REQUEST"
    return EbayError(status, ErrorDetail(error_id, "API_TAXONOMY", category, message))


@cache
def ids() -> dict[str, str]:
    """Node key → eBay category id."""
    return {node.key: str(node.number()) for node in taxonomy_data.nodes()}


@cache
def nodes_by_id() -> dict[str, taxonomy_data.Node]:
    by_key = taxonomy_data.by_key()
    return {category_id: by_key[key] for key, category_id in ids().items()}


def _ancestors(node: taxonomy_data.Node, tree_id: str) -> list[dict[str, Any]]:
    by_key = taxonomy_data.by_key()
    out = []
    key = node.parent_key
    while key is not None:
        parent = by_key[key]
        out.append(
            {
                "categoryId": ids()[key],
                "categoryName": parent.name,
                "categorySubtreeNodeHref": f"{TAXONOMY}/category_tree/{tree_id}/get_category_subtree"
                f"?category_id={ids()[key]}",
                "categoryTreeNodeLevel": parent.depth,
            }
        )
        key = parent.parent_key
    return out


def suggestion(node: taxonomy_data.Node, tree_id: str) -> dict[str, Any]:
    return {
        "category": {"categoryId": ids()[node.key], "categoryName": node.name},
        "categoryTreeNodeAncestors": _ancestors(node, tree_id),
        "categoryTreeNodeLevel": node.depth,
    }


def aspect(item: taxonomy_data.Aspect) -> dict[str, Any]:
    body: dict[str, Any] = {
        "localizedAspectName": item.name,
        "aspectConstraint": {
            "aspectDataType": "STRING",
            "aspectEnabledForVariations": False,
            "aspectMode": "SELECTION_ONLY" if item.values else "FREE_TEXT",
            "aspectRequired": item.required,
            "aspectUsage": "RECOMMENDED",  # eBay says RECOMMENDED for required aspects too
            "itemToAspectCardinality": "MULTI" if item.multi else "SINGLE",
        },
    }
    if not item.values:
        body["aspectConstraint"]["aspectMaxLength"] = 65
    else:
        body["aspectValues"] = [{"localizedValue": value} for value in item.values]
    return body


def required_aspects(category_id: str) -> tuple[str, ...] | None:
    """The aspects a listing in this category must carry; None for an id the tree does not hold."""
    node = nodes_by_id().get(category_id)
    return None if node is None else tuple(a.name for a in node.required())


def add_routes(app: FastAPI) -> None:
    def tree(category_tree_id: str) -> str:
        if category_tree_id not in TREE_IDS.values():
            raise taxonomy_error(62004, "The specified category tree ID was not found.")
        return category_tree_id

    @app.get(TAXONOMY + "/get_default_category_tree_id")
    async def get_default_category_tree_id(request: Request) -> JSONResponse:
        marketplace = request.query_params.get("marketplace_id")
        if not marketplace:
            raise taxonomy_error(62002, "Missing marketplace ID.")
        if marketplace not in TREE_IDS:
            raise taxonomy_error(62003, "The specified marketplace ID was not found.")
        return JSONResponse({"categoryTreeId": TREE_IDS[marketplace], "categoryTreeVersion": TREE_VERSION})

    @app.get(TAXONOMY + "/category_tree/{category_tree_id}/get_category_suggestions")
    async def get_category_suggestions(category_tree_id: str, request: Request) -> Response:
        tree_id = tree(category_tree_id)
        q = (request.query_params.get("q") or "").strip()
        if not q:
            raise taxonomy_error(62007, "Missing q parameter.")  # eBay: "q" is required
        found = [node for node, _ in taxonomy_data.rank(q, limit=MAX_SUGGESTIONS)]
        if not found:
            return Response(status_code=204)
        return JSONResponse(
            {
                "categorySuggestions": [suggestion(node, tree_id) for node in found],
                "categoryTreeId": tree_id,
                "categoryTreeVersion": TREE_VERSION,
            }
        )

    @app.get(TAXONOMY + "/category_tree/{category_tree_id}/get_item_aspects_for_category")
    async def get_item_aspects_for_category(category_tree_id: str, request: Request) -> JSONResponse:
        tree(category_tree_id)
        category_id = request.query_params.get("category_id")
        if not category_id:
            raise taxonomy_error(62006, "Missing category ID.")
        node = nodes_by_id().get(category_id)
        if node is None:
            raise taxonomy_error(
                62005, "The specified category ID does not belong to specified category tree."
            )
        if not node.leaf:
            raise taxonomy_error(62009, "The specified category ID must be a leaf category.")
        return JSONResponse({"aspects": [aspect(a) for a in node.aspects]})
