"""After the sale: a buyer purchases (the model hook), the sale shows in SoldItems and the quantity
drops, the last one closes the listing; sale status, courier parcels, the account summary, and the
simulator's control endpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from retail_pipeline.integrations.marketplaces.base import ChannelError
from retail_pipeline.simulators.trademe import BusinessFailure

from .conftest import Wire, make_draft

pytestmark = pytest.mark.anyio


async def test_a_purchase_shows_in_sold_items_and_reduces_the_quantity(client, backend, sim):
    created = await client.create(make_draft(quantity=3))
    listing_id = int(created.external_id)
    sim.clock.advance(0.5)
    sale = backend.buy(listing_id, 2)

    [remote] = [r async for r in client.selling()]
    assert remote.quantity == 1
    [sold] = [s async for s in client.sold_items("LastHour")]
    assert (sold.purchase_id, sold.listing_id, sold.sku, sold.quantity) == (
        sale.purchase_id,
        listing_id,
        "OC-100007",
        2,
    )
    assert (sold.unit_price, sold.subtotal, sold.shipping_total, sold.total) == (
        Decimal("349.0"),
        Decimal("698.0"),
        Decimal("19.0"),  # $9.50 each: not a flat shipping charge
        Decimal("717.0"),
    )
    assert sold.sold_at == datetime(2025, 6, 2, 9, 30, tzinfo=UTC) and sold.status == 0
    assert sold.buyer_id == sale.buyer.member_id and sold.buyer_nickname == sale.buyer.nickname
    assert (
        sold.delivery_address["City"] == sale.buyer.city and sold.delivery_address["Country"] == "New Zealand"
    )
    assert sold.raw["SelectedShipping"] == "$9.50 Nationwide courier" and sold.raw["SoldType"] == "Buy now"
    assert sold.raw["IsPayNowPurchase"] is True and sold.raw["PaymentMethod"] == 2

    backend.buy(listing_id, 1)
    assert [r async for r in client.selling()] == []  # sold out: closed
    assert backend.state(backend.listings[listing_id]) == "sold"
    assert len([s async for s in client.sold_items("Last24Hours")]) == 2
    with pytest.raises(BusinessFailure, match="is not for sale"):
        backend.buy(listing_id)


async def test_sold_items_windows_follow_the_clock(client, backend, sim):
    created = await client.create(make_draft(quantity=5))
    backend.buy(int(created.external_id))
    sim.clock.advance(2)
    backend.buy(int(created.external_id))
    assert len([s async for s in client.sold_items("LastHour")]) == 1
    assert len([s async for s in client.sold_items("Last24Hours")]) == 2
    sim.clock.advance(24 * 46)
    assert [s async for s in client.sold_items("Last45Days")] == []


async def test_cannot_buy_more_than_is_left(client, backend):
    created = await client.create(make_draft(quantity=2))
    with pytest.raises(BusinessFailure, match="Only 2 available; cannot buy 3."):
        backend.buy(int(created.external_id), 3)


async def test_sale_status_and_status_filters(client, backend, wire: Wire):
    created = await client.create(make_draft())
    sale = backend.buy(int(created.external_id))
    await client.set_status(sale.purchase_id, "GoodsShipped")
    await client.set_status(sale.purchase_id, "GoodsShipped")  # repeating is harmless
    [shipped] = [s async for s in client.sold_items("GoodsShipped")]
    assert shipped.status == 30 and shipped.raw["StatusDate"] == shipped.raw["SoldDate"]
    assert [s async for s in client.sold_items("SaleCompleted")] == []

    with pytest.raises(ChannelError, match="Purchase 1 was not found"):
        await client.set_status(1, "EmailSent")
    bad = await wire("POST", f"/v1/MyTradeMe/Status/{sale.purchase_id}/Lost.json")
    assert bad.status_code == 400


async def test_courier_parcels(client, backend, wire: Wire):
    first = await client.create(make_draft(sku="A"))
    second = await client.create(make_draft(sku="B"))
    buyer = backend.buyer()
    sales = [
        backend.buy(int(first.external_id), buyer=buyer),
        backend.buy(int(second.external_id), buyer=buyer),
    ]
    ids = [s.purchase_id for s in sales]

    parcel_id = await client.add_courier_parcel(ids, "NZ Post", "LZ123456789NZ")
    assert parcel_id is not None and backend.parcels[parcel_id].purchase_ids == tuple(ids)
    assert await client.add_courier_parcel(ids, "NZ Post", "LZ123456789NZ") is None  # already there
    [latest, *_] = [s async for s in client.sold_items("Last24Hours")]
    assert latest.raw["TrackedParcels"][0] | {"DateAdded": None} == {
        "CourierParcelId": parcel_id,
        "CourierCompanyName": "NZ Post",
        "TrackingReference": "LZ123456789NZ",
        "TrackingUrl": None,
        "Status": 0,
        "DateAdded": None,
    }

    other = backend.buy(int(first.external_id))  # another buyer
    refusals = [
        ({"CourierCompany": "", "TrackingReference": "X", "AuctionSoldIds": ids}, 9),
        ({"CourierCompany": "NZ Post", "TrackingReference": "", "AuctionSoldIds": ids}, 2),
        ({"CourierCompany": "NZ Post", "TrackingReference": "X" * 51, "AuctionSoldIds": ids}, 3),
        ({"CourierCompany": "NZ Post", "TrackingReference": "X", "AuctionSoldIds": []}, 7),
        ({"CourierCompany": "NZ Post", "TrackingReference": "X", "AuctionSoldIds": [1]}, 6),
        (
            {
                "CourierCompany": "NZ Post",
                "TrackingReference": "X",
                "AuctionSoldIds": [ids[0], other.purchase_id],
            },
            8,
        ),
    ]
    for parcel, code in refusals:
        answer = (await wire("POST", "/v1/MyTradeMe/CourierParcels.json", {"Parcel": parcel})).json()
        assert (answer["Success"], answer["Code"]) == (False, code)
    with pytest.raises(ChannelError, match="do not exist") as error:
        await client.add_courier_parcel([1], "NZ Post", "X")
    assert error.value.details["Code"] == 6


async def test_account_summary(client, backend):
    first = await client.create(make_draft(sku="A"))
    await client.create(make_draft(sku="B"))
    backend.buy(int(first.external_id), 3)
    summary = await client.account_summary()
    assert (summary.member_id, summary.nickname) == (backend.config.member_id, "retail_pipeline_nz")
    assert (summary.selling_count, summary.sold_count, summary.unsold_count) == (1, 1, 0)
    assert summary.pay_now_balance == Decimal("1075.5")  # 3 x $349 + 3 x $9.50 by Pay Now
    assert summary.balance == Decimal("0.0")


async def test_control_endpoints(transport, client, backend):
    created = await client.create(make_draft())
    async with httpx.AsyncClient(transport=transport, base_url="http://sim/trademe") as http:
        sold = (
            await http.post("/_control/buy", json={"ListingId": int(created.external_id), "Quantity": 2})
        ).json()
        assert sold["QuantitySold"] == 2 and sold["ListingId"] == int(created.external_id)
        too_many = await http.post(
            "/_control/buy", json={"ListingId": int(created.external_id), "Quantity": 5}
        )
        assert too_many.status_code == 409

        foreign = (
            await http.post("/_control/foreign_listings", json={"Title": "Lamp", "Price": "25.00"})
        ).json()
        assert not backend.listings[foreign["ListingId"]].via_api

        assert (await http.get("/_control/limits")).json() == {
            "hourly_call_limit": 1000,
            "calls_this_hour": 1,
        }
        lowered = await http.put("/_control/limits", json={"hourly_call_limit": 5})
        assert lowered.json()["hourly_call_limit"] == 5 and backend.hourly_call_limit == 5
