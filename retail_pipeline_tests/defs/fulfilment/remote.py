"""What the channel simulators hold for a shipped order: shared by the tracking and run-once tests."""

from __future__ import annotations

URL = "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor="


def remote_tracking(sim, channel: str, external: str, carrier: str = "canada_post") -> list[str]:
    """The tracking numbers the channel's simulator holds for the order (one per parcel/fulfilment),
    after checking the order itself is shipped there (by `carrier`, as the channel names it)."""
    from retail_pipeline.channels.registry import channel as channel_plugin

    named = channel_plugin(channel).carrier(carrier, "")
    backend = sim.backend("mirakl" if channel == "bestbuy" else channel)
    if channel == "trademe":
        sale = backend.sales[int(external)]
        assert sale.status == 30  # GoodsShipped
        return [backend.parcels[p].tracking_reference for p in sale.parcel_ids]
    if channel == "ebay":
        order = backend.get_order(external)
        assert order.fulfillment_status == "FULFILLED"
        return [f.tracking_number for f in order.fulfillments]
    if channel == "shopify":
        order = backend.order(int(external))
        assert order.fulfillment_status == "fulfilled"
        assert all(
            f.tracking_company == named.name and f.tracking_url.startswith(named.url or "")
            for f in order.fulfillments
        )
        return [f.tracking_number for f in order.fulfillments]
    if channel == "bestbuy":
        order = sim.backend("mirakl").order(external)
        assert order.state == "SHIPPED" and order.carrier_code == named.code
        assert order.carrier_name == named.name
        return [order.tracking_number]
    if channel == "amazon":
        order = backend.order(external)
        assert order.status == "SHIPPED" and {p["carrier"] for p in order.packages} == {named.name}
        return [p["trackingNumber"] for p in order.packages]
    if channel == "kaufland":  # one order unit per item, each sent with the tracking number
        units = [u for u in backend.order_units.values() if u.id_order == external]
        assert units and all(u.status == "sent" and u.carrier_code for u in units)
        return sorted({n for u in units for n in u.tracking_numbers})
    order = backend.order(int(external))
    assert order.status == "shipped" and order.shipping_provider == named.name
    return [order.tracking_number]
