"""eBay's JSON for the simulated state: inventory items, offers and their pages, orders and their pages,
shipping fulfillments. Field names and shapes are the specs' (the gateway checks every response)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from ..buyers import Buyer
from .models import Fulfillment, InventoryItem, Offer, Order

# How the simulated seller ships (eBay fills these from the buyer's chosen service).
SHIPPING = {"CA": ("CanadaPost", "CA_PostExpeditedParcel"), "US": ("USPS", "USPSPriority")}
HANDLING_DAYS, TRANSIT_DAYS = (1, 2), (3, 7)


def ebay_time(moment: datetime) -> str:
    """eBay's timestamps: UTC with milliseconds, e.g. 2015-08-04T19:09:02.768Z."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def inventory_item(item: InventoryItem) -> dict[str, Any]:
    return {"sku": item.sku, "locale": item.locale, **item.data}


def inventory_items_page(
    items: list[InventoryItem], *, links: dict[str, str], limit: int, total: int
) -> dict[str, Any]:
    return {
        **links,
        "inventoryItems": [inventory_item(i) for i in items],
        "limit": limit,
        "size": len(items),
        "total": total,
    }


def offer(offer: Offer) -> dict[str, Any]:
    body: dict[str, Any] = {
        "offerId": offer.offer_id,
        "sku": offer.sku,
        "marketplaceId": offer.marketplace_id,
        "format": offer.format,
        "hideBuyerDetails": False,  # "always returned even if not explicitly set"
        "includeCatalogProductDetails": True,
        "listingDuration": "GTC",
        **offer.details,
        "status": offer.status,
    }
    if offer.listing is not None:
        body["listing"] = {
            "listingId": offer.listing.listing_id,
            "listingStatus": offer.listing.status,
            "soldQuantity": offer.listing.sold_quantity,
            "listingOnHold": False,
        }
    return body


def page_links(
    url: str, params: dict[str, str], *, key: str, current: int, step: int, more: bool
) -> dict[str, str]:
    """href/next/prev for a paged collection; `key` is the query parameter that pages (`offset`), which
    moves by `step` (1 where eBay counts pages, `limit` where it counts records)."""

    def link(value: int) -> str:
        return f"{url}?{urlencode({**params, key: str(value)})}"

    links = {"href": link(current)}
    if more:
        links["next"] = link(current + step)
    if current > 0:
        links["prev"] = link(max(0, current - step))
    return links


def offers_page(offers: list[Offer], *, links: dict[str, str], limit: int, total: int) -> dict[str, Any]:
    return {
        **links,
        "limit": limit,
        "offers": [offer(o) for o in offers],
        "size": len(offers),
        "total": total,
    }


def _amount(value: Decimal, currency: str) -> dict[str, str]:
    return {"value": f"{value:.2f}", "currency": currency}


def _address(buyer: Buyer) -> dict[str, str]:
    address = {"addressLine1": buyer.address1}
    if buyer.address2:
        address["addressLine2"] = buyer.address2
    return address | {
        "city": buyer.city,
        "stateOrProvince": buyer.province_code,
        "postalCode": buyer.zip,
        "countryCode": buyer.country_code,
    }


def _contact(buyer: Buyer) -> dict[str, Any]:
    return {
        "fullName": buyer.name,
        "contactAddress": _address(buyer),
        "primaryPhone": {"phoneNumber": buyer.phone},
        "email": buyer.email,
    }


def _username(buyer: Buyer) -> str:
    """eBay shows buyers by user id; one made from the e-mail's local part."""
    return buyer.email.split("@")[0].replace(".", "_")


def order(order: Order, *, seller: str, fulfillment_url: str) -> dict[str, Any]:
    """`fulfillment_url`: this order's shipping_fulfillment collection URL."""
    currency = order.line_items[0].currency
    zero = _amount(Decimal(0), currency)
    subtotal = sum((line.unit_price * line.quantity for line in order.line_items), Decimal(0))
    total = _amount(subtotal, currency)
    created = order.created
    ship_by = created + timedelta(days=HANDLING_DAYS[1])
    earliest, latest = (
        created + timedelta(days=HANDLING_DAYS[0] + TRANSIT_DAYS[0]),
        ship_by + timedelta(days=TRANSIT_DAYS[1]),
    )
    carrier, service = SHIPPING.get(order.buyer.country_code, SHIPPING["US"])
    buyer = order.buyer
    return {
        "orderId": order.order_id,
        "creationDate": ebay_time(created),
        "lastModifiedDate": ebay_time(order.modified),
        "orderFulfillmentStatus": order.fulfillment_status,
        "orderPaymentStatus": "PAID",
        "sellerId": seller,
        "buyer": {
            "username": _username(buyer),
            "taxAddress": {k: v for k, v in _address(buyer).items() if not k.startswith("addressLine")},
            "buyerRegistrationAddress": _contact(buyer),
        },
        "pricingSummary": {"priceSubtotal": total, "deliveryCost": zero, "total": total},
        "cancelStatus": {"cancelState": "NONE_REQUESTED", "cancelRequests": []},
        "paymentSummary": {
            "totalDueSeller": total,
            "refunds": [],
            "payments": [
                {
                    "paymentMethod": "EBAY",
                    "paymentDate": ebay_time(created),
                    "amount": total,
                    "paymentStatus": "PAID",
                }
            ],
        },
        "fulfillmentStartInstructions": [
            {
                "fulfillmentInstructionsType": "SHIP_TO",
                "minEstimatedDeliveryDate": ebay_time(earliest),
                "maxEstimatedDeliveryDate": ebay_time(latest),
                "ebaySupportedFulfillment": False,
                "shippingStep": {
                    "shippingCarrierCode": carrier,
                    "shippingServiceCode": service,
                    "shipTo": _contact(buyer),
                },
            }
        ],
        "fulfillmentHrefs": [f"{fulfillment_url}/{f.fulfillment_id}" for f in order.fulfillments],
        "lineItems": [
            {
                "lineItemId": line.line_item_id,
                "legacyItemId": line.listing_id,
                "sku": line.sku,
                "title": line.title,
                "quantity": line.quantity,
                "lineItemCost": _amount(line.unit_price * line.quantity, currency),
                "total": _amount(line.unit_price * line.quantity, currency),
                "deliveryCost": {"shippingCost": zero},
                "soldFormat": "FIXED_PRICE",
                "listingMarketplaceId": order.marketplace_id,
                "purchaseMarketplaceId": order.marketplace_id,
                "lineItemFulfillmentStatus": line.status,
                "lineItemFulfillmentInstructions": {
                    "shipByDate": ebay_time(ship_by),
                    "minEstimatedDeliveryDate": ebay_time(earliest),
                    "maxEstimatedDeliveryDate": ebay_time(latest),
                    "guaranteedDelivery": False,
                },
                "appliedPromotions": [],
                "taxes": [],
                "refunds": [],
            }
            for line in order.line_items
        ],
        "salesRecordReference": order.order_id.rsplit("-", 1)[-1],
    }


def orders_page(
    orders: list[dict[str, Any]], *, links: dict[str, str], limit: int, offset: int, total: int
) -> dict[str, Any]:
    return {**links, "limit": limit, "offset": offset, "orders": orders, "total": total}


def shipping_fulfillment(fulfillment: Fulfillment) -> dict[str, Any]:
    body: dict[str, Any] = {
        "fulfillmentId": fulfillment.fulfillment_id,
        "lineItems": [
            {"lineItemId": line_id, "quantity": quantity} for line_id, quantity in fulfillment.line_items
        ],
        "shippedDate": ebay_time(fulfillment.shipped_date),
    }
    if fulfillment.tracking_number:
        body |= {
            "shippingCarrierCode": fulfillment.carrier,
            "shipmentTrackingNumber": fulfillment.tracking_number,
        }
    return body


def token(access_token: str, expires_in: int) -> dict[str, Any]:
    return {"access_token": access_token, "expires_in": expires_in, "token_type": "User Access Token"}
