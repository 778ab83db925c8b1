"""The simulator's Admin GraphQL (productSet) and the client's one-call listing create over it."""

from __future__ import annotations

import pytest

from retail_pipeline.channels.shopify import PRODUCT_SET, ShopifyClient, product_set_input
from retail_pipeline.integrations.marketplaces.base import ChannelError
from retail_pipeline.simulators.shopify.graphql import BUCKET_POINTS, CostBucket
from retail_pipeline_tests.channels.rest_support import QUICK_RETRIES, draft

pytestmark = pytest.mark.anyio


async def test_product_set_creates_product_photos_and_stock_in_one_request(admin, backend):
    location = backend.locations[0].id
    body = {
        "query": PRODUCT_SET,
        "variables": {"input": product_set_input(draft(), ["https://m.example/a.jpg"], location)},
    }
    answer = await admin.post("/graphql.json", json=body)
    assert (
        answer.status_code == 200 and "x-shopify-shop-api-call-limit" not in answer.headers
    )  # not REST's bucket
    data = answer.json()
    product = data["data"]["productSet"]["product"]
    assert data["data"]["productSet"]["userErrors"] == []
    assert product["id"].startswith("gid://shopify/Product/") and product["status"] == "ACTIVE"
    stored = backend.product(int(product["id"].rsplit("/", 1)[1]))
    assert [i.src for i in stored.images] == ["https://m.example/a.jpg"]
    assert backend.inventory_quantity(stored.variants[0]) == 3 and stored.variants[0].sku == "OC-100123"
    cost = data["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 10 and cost["throttleStatus"]["maximumAvailable"] == BUCKET_POINTS


async def test_graphql_refuses_unknown_fields_and_reports_invalid_input_as_user_errors(admin, backend):
    unknown = (
        await admin.post(
            "/graphql.json",
            json={"query": 'mutation { productSet(input: {colour: "red"}) { product { id } } }'},
        )
    ).json()
    assert "colour" in unknown["errors"][0]["message"] and "data" not in unknown
    location = backend.locations[0].id
    bad = product_set_input(draft(), [], location) | {"title": ""}
    refused = (
        await admin.post("/graphql.json", json={"query": PRODUCT_SET, "variables": {"input": bad}})
    ).json()
    assert refused["data"]["productSet"]["product"] is None
    assert refused["data"]["productSet"]["userErrors"][0]["message"] == "Title can't be blank"
    assert backend.products == {}


async def test_an_empty_cost_bucket_is_throttled_and_the_client_waits_it_out(
    settings, transport, backend, sim
):
    readings = iter([0.0, 0.0, 0.0])  # the bucket's clock: made, first create, second create (refused)
    graphql = sim.systems["shopify"].state.graphql
    graphql._buckets[settings.token()] = CostBucket(maximum=15, restore=50, now=lambda: next(readings, 10.0))
    async with ShopifyClient(settings, transport=transport, policy=QUICK_RETRIES) as client:
        first = await client.create(draft(sku="OC-1"))
        second = await client.create(draft(sku="OC-2"))  # THROTTLED (5 of 10 points), then created
    assert (first.state, second.state) == ("live", "live") and len(backend.products) == 2
    answers = [e for e in sim.journal.entries(system="shopify") if e.path.endswith("/graphql.json")]
    assert len(answers) == 3 and all(e.status == 200 for e in answers)  # GraphQL refuses with a 200


async def test_a_refused_create_is_a_non_retryable_channel_error(client, backend):
    with pytest.raises(ChannelError) as refused:
        await client.create(draft(title=" "))
    assert (refused.value.status, refused.value.retryable) == (422, False)
    assert "Title can't be blank" in refused.value.message and backend.products == {}
