"""Amazon's JSON for listings items and orders (Listings Items 2021-08-01, Orders 2026-01-01)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from .models import MARKETPLACES, Listing, Order


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def money(amount: Decimal, currency: str) -> dict[str, str]:
    return {"currencyCode": currency, "amount": f"{amount:.2f}"}


def item_json(listing: Listing, included: set[str], now: datetime) -> dict[str, Any]:
    body: dict[str, Any] = {"sku": listing.sku}
    if "summaries" in included:
        summary: dict[str, Any] = {
            "marketplaceId": listing.marketplace_id,
            "asin": listing.asin,
            "productType": listing.product_type,
            "conditionType": listing.value("condition_type") or "new_new",
            "status": listing.status(now),
            "itemName": listing.value("item_name") or listing.sku,
            "createdDate": iso(listing.created),
            "lastUpdatedDate": iso(listing.updated),
        }
        image = listing.value("main_product_image_locator", "media_location")
        if image:
            summary["mainImage"] = {"link": image, "height": 1000, "width": 1000}
        body["summaries"] = [summary]
    if "attributes" in included:
        body["attributes"] = listing.attributes
    if "issues" in included:
        body["issues"] = [{**i, "marketplaceIds": [listing.marketplace_id]} for i in listing.issues(now)]
    if "offers" in included:
        price = listing.price
        body["offers"] = (
            []
            if price is None
            else [
                {
                    "marketplaceId": listing.marketplace_id,
                    "offerType": "B2C",
                    "price": money(price, MARKETPLACES[listing.marketplace_id][1]),
                }
            ]
        )
    if "fulfillmentAvailability" in included:
        body["fulfillmentAvailability"] = [
            {"fulfillmentChannelCode": "DEFAULT", "quantity": listing.quantity}
        ]
    if "productTypes" in included:
        body["productTypes"] = [
            {"marketplaceId": listing.marketplace_id, "productType": listing.product_type}
        ]
    return body


def order_json(order: Order, included: set[str]) -> dict[str, Any]:
    name, currency, _ = MARKETPLACES[order.marketplace_id]
    body: dict[str, Any] = {
        "orderId": order.order_id,
        "createdTime": iso(order.created),
        "lastUpdatedTime": iso(order.updated),
        "programs": [],
        "salesChannel": {
            "channelName": "AMAZON",
            "marketplaceId": order.marketplace_id,
            "marketplaceName": name,
        },
        "orderItems": [],
    }
    buyer = order.buyer
    if "BUYER" in included:
        body["buyer"] = {
            "buyerName": buyer.name,
            "buyerEmail": f"{buyer.email.split('@')[0].replace('.', '')}@marketplace.amazon.ca",
        }
    if "RECIPIENT" in included:
        address = {
            "name": buyer.name,
            "addressLine1": buyer.address1,
            "city": buyer.city,
            "stateOrRegion": buyer.province_code,
            "postalCode": buyer.zip,
            "countryCode": buyer.country_code,
            "phone": buyer.phone,
            "addressType": "RESIDENTIAL",
        }
        if buyer.address2:
            address["addressLine2"] = buyer.address2
        body["recipient"] = {"deliveryAddress": address}
    if "PROCEEDS" in included:
        body["proceeds"] = {
            "grandTotal": money(order.total, currency),
            "breakdowns": [
                {"type": "ITEM", "subtotal": money(order.total, currency)},
                {"type": "SHIPPING", "subtotal": money(Decimal(0), currency)},
                {"type": "TAX", "subtotal": money(Decimal(0), currency)},
            ],
        }
    if "FULFILLMENT" in included:
        body["fulfillment"] = {
            "fulfillmentStatus": order.status,
            "fulfilledBy": "MERCHANT",
            "fulfillmentServiceLevel": "STANDARD",
            "shipByWindow": {"latestDateTime": iso(order.created.replace(microsecond=0) + _days(2))},
        }
    if "PACKAGES" in included:
        body["packages"] = order.packages
    for item in order.items:
        entry: dict[str, Any] = {
            "orderItemId": item.order_item_id,
            "quantityOrdered": item.quantity,
            "product": {
                "asin": item.asin,
                "title": item.title,
                "sellerSku": item.sku,
                "condition": {"conditionType": "New"},
                "price": {"unitPrice": money(item.unit_price, currency)},
            },
        }
        if "PROCEEDS" in included:
            entry["proceeds"] = {"proceedsTotal": money(item.unit_price * item.quantity, currency)}
        if "FULFILLMENT" in included:
            shipped = sum(
                p["quantity"]
                for package in order.packages
                for p in package["packageItems"]
                if p["orderItemId"] == item.order_item_id
            )
            entry["fulfillment"] = {
                "quantityFulfilled": shipped,
                "quantityUnfulfilled": item.quantity - shipped,
            }
        body["orderItems"].append(entry)
    return body


def _days(n: int):
    from datetime import timedelta

    return timedelta(days=n)
