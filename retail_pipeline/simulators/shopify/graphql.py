"""Shopify's Admin GraphQL API, the part we use: `productSet` (create a product with its variants,
media and inventory in one request), with GraphQL's own cost-based rate limit.

Requests are parsed and validated by graphql-core against a subset of the Admin schema (2025-07), so
a query with an unknown field or a wrong input type fails as Shopify answers it (`errors`, HTTP 200).
Each request costs points from a per-token bucket separate from REST's call bucket: `productSet`
costs 10, and the bucket holds 1,000 points restoring 50 a second (the standard plan's figures);
every answer carries `extensions.cost` with the throttle status, and a request the bucket cannot pay
is refused with `errors[0].extensions.code = "THROTTLED"`. Products made here are the same records
REST reads (ids are `gid://shopify/Product/<id>`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, build_schema, graphql_sync

from .exceptions import ShopifyError

if TYPE_CHECKING:
    from .models import ShopifyBackend

SDL = """
type Query { shop: Shop! }
type Shop { name: String! }
type Mutation {
  productSet(input: ProductSetInput!, synchronous: Boolean = true): ProductSetPayload
}
enum ProductStatus { ACTIVE ARCHIVED DRAFT }
enum ProductVariantInventoryPolicy { DENY CONTINUE }
enum FileContentType { IMAGE FILE VIDEO EXTERNAL_VIDEO MODEL_3D }
scalar Money
input ProductSetInput {
  title: String
  descriptionHtml: String
  vendor: String
  productType: String
  handle: String
  status: ProductStatus
  tags: [String!]
  productOptions: [OptionSetInput!]
  variants: [ProductVariantSetInput!]
  files: [FileSetInput!]
}
input OptionSetInput { name: String, values: [OptionValueSetInput!] }
input OptionValueSetInput { name: String }
input ProductVariantSetInput {
  optionValues: [VariantOptionValueInput!]!
  price: Money
  compareAtPrice: Money
  barcode: String
  taxable: Boolean
  inventoryPolicy: ProductVariantInventoryPolicy
  inventoryItem: InventoryItemInput
  inventoryQuantities: [ProductSetInventoryInput!]
}
input VariantOptionValueInput { optionName: String, name: String }
input InventoryItemInput { sku: String, tracked: Boolean, requiresShipping: Boolean }
input ProductSetInventoryInput { locationId: ID!, name: String!, quantity: Int! }
input FileSetInput { originalSource: String, contentType: FileContentType, alt: String }
type ProductSetPayload { product: Product, userErrors: [ProductSetUserError!]! }
type ProductSetUserError { field: [String!], message: String!, code: String }
type Product {
  id: ID!
  handle: String!
  title: String!
  status: ProductStatus!
  variants(first: Int): ProductVariantConnection!
}
type ProductVariantConnection { nodes: [ProductVariant!]! }
type ProductVariant {
  id: ID!
  sku: String
  price: Money!
  inventoryQuantity: Int
  inventoryItem: InventoryItem!
}
type InventoryItem { id: ID! }
"""
SCHEMA = build_schema(SDL)
MUTATION_COST = 10
QUERY_COST = 1
BUCKET_POINTS = 1000.0
RESTORE_RATE = 50.0


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def gid_number(value: str, kind: str) -> int:
    prefix = f"gid://shopify/{kind}/"
    if not isinstance(value, str) or not value.startswith(prefix) or not value[len(prefix) :].isdigit():
        raise ValueError(f"{value!r} is not a {kind} id")
    return int(value[len(prefix) :])


class CostBucket:
    """GraphQL points per access token: `maximum` held, `restore` per second."""

    def __init__(
        self,
        maximum: float = BUCKET_POINTS,
        restore: float = RESTORE_RATE,
        now: Callable[[], float] = time.monotonic,
    ):
        self.maximum, self.restore, self._now = maximum, restore, now
        self._available, self._stamp = maximum, now()
        self._lock = threading.Lock()

    def take(self, cost: int) -> tuple[bool, float]:
        with self._lock:
            now = self._now()
            self._available = min(self.maximum, self._available + (now - self._stamp) * self.restore)
            self._stamp = now
            if self._available < cost:
                return False, self._available
            self._available -= cost
            return True, self._available


def _rest_product(data: dict[str, Any]) -> dict[str, Any]:
    """productSet's input as the REST product the backend validates and stores."""
    variants = []
    for variant in data.get("variants") or [{"optionValues": []}]:
        item = variant.get("inventoryItem") or {}
        rest: dict[str, Any] = {
            "sku": item.get("sku"),
            "price": variant.get("price", "0.00"),
            "barcode": variant.get("barcode"),
            "inventory_management": "shopify" if item.get("tracked", True) else None,
            "inventory_policy": str(variant.get("inventoryPolicy") or "DENY").lower(),
            "requires_shipping": item.get("requiresShipping", True),
            "taxable": variant.get("taxable", True),
        }
        names = [v.get("name") for v in variant.get("optionValues") or [] if v.get("name")]
        if names and names[0] != "Default Title":
            rest["option1"] = names[0]
        if variant.get("compareAtPrice") is not None:
            rest["compare_at_price"] = variant["compareAtPrice"]
        variants.append(rest)
    return {
        "title": data.get("title") or "",
        "body_html": data.get("descriptionHtml"),
        "vendor": data.get("vendor"),
        "product_type": data.get("productType"),
        "handle": data.get("handle"),
        "status": str(data.get("status") or "ACTIVE").lower(),
        "tags": ", ".join(data.get("tags") or []),
        "variants": variants,
        "images": [
            {"src": f.get("originalSource"), "alt": f.get("alt")}
            for f in data.get("files") or []
            if (f.get("contentType") or "IMAGE") == "IMAGE"
        ],
    }


def _user_errors(error: ShopifyError) -> list[dict[str, Any]]:
    if isinstance(error.errors, dict):
        return [
            {
                "field": ["input", field],
                "message": f"{field.replace('_', ' ').capitalize()} {message}",
                "code": "INVALID",
            }
            for field, messages in error.errors.items()
            for message in (messages if isinstance(messages, list) else [messages])
        ]
    return [{"field": ["input"], "message": str(error.errors), "code": "INVALID"}]


class AdminGraphQL:
    def __init__(self, backend: ShopifyBackend):
        self.backend = backend
        self._buckets: dict[str, CostBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, token: str) -> CostBucket:
        with self._lock:
            return self._buckets.setdefault(token, CostBucket())

    def _product_set(self, _info: Any, *, input: dict[str, Any], synchronous: bool = True) -> dict[str, Any]:  # noqa: A002
        backend = self.backend
        try:
            product = backend.create_product(_rest_product(input))
            for variant_input, variant in zip(input.get("variants") or [], product.variants, strict=False):
                for quantity in variant_input.get("inventoryQuantities") or []:
                    if quantity["name"] != "available":
                        raise ShopifyError(
                            422, {"inventory_quantities": [f"name {quantity['name']!r} is not settable"]}
                        )
                    location = gid_number(quantity["locationId"], "Location")
                    backend.set_inventory(variant.inventory_item_id, location, quantity["quantity"])
        except ShopifyError as error:
            return {"product": None, "userErrors": _user_errors(error)}
        except ValueError as error:
            return {
                "product": None,
                "userErrors": [{"field": ["input"], "message": str(error), "code": "INVALID"}],
            }
        return {
            "product": {
                "id": gid("Product", product.id),
                "handle": product.handle,
                "title": product.title,
                "status": product.status.upper(),
                "variants": {
                    "nodes": [
                        {"id": gid("ProductVariant", v.id), "sku": v.sku, "price": f"{v.price:.2f}",
                         "inventoryQuantity": backend.inventory_quantity(v),
                         "inventoryItem": {"id": gid("InventoryItem", v.inventory_item_id)}}
                        for v in product.variants
                    ]
                },
            },
            "userErrors": [],
        }  # fmt: skip

    def execute(self, token: str, body: Any) -> dict[str, Any]:
        """One POST /graphql.json body → the JSON answer (always HTTP 200, as Shopify answers)."""
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return {"errors": [{"message": "Parameter Missing or Invalid: query"}]}
        query, variables = body["query"], body.get("variables") or {}
        cost = MUTATION_COST if query.lstrip().startswith("mutation") else QUERY_COST
        allowed, available = self.bucket(token).take(cost)
        extensions = {
            "cost": {
                "requestedQueryCost": cost,
                "actualQueryCost": cost if allowed else None,
                "throttleStatus": {
                    "maximumAvailable": BUCKET_POINTS, "currentlyAvailable": round(available, 1),
                    "restoreRate": RESTORE_RATE,
                },
            }
        }  # fmt: skip
        if not allowed:
            return {
                "errors": [{"message": "Throttled", "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                "extensions": extensions,
            }  # fmt: skip
        result = graphql_sync(
            SCHEMA,
            query,
            root_value={"productSet": self._product_set, "shop": {"name": self.backend.config.shop}},
            variable_values=variables,
            operation_name=body.get("operationName"),
        )
        answer: dict[str, Any] = {}
        if result.errors:
            answer["errors"] = [_error(e) for e in result.errors]
        if result.data is not None:
            answer["data"] = result.data
        return answer | {"extensions": extensions}


def _error(error: GraphQLError) -> dict[str, Any]:
    body = error.formatted
    body.setdefault("extensions", {})["code"] = body.get("extensions", {}).get(
        "code", "GRAPHQL_VALIDATION_FAILED"
    )
    return body
