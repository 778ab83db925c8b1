"""OAuth2: the refresh-token grant, bearer tokens on every Sell call, expiry and renewal."""

from __future__ import annotations

from datetime import timedelta

import pytest

from retail_pipeline.integrations.marketplaces.base import ChannelError
from retail_pipeline.simulators.ebay import EbaySimulatorConfig

pytestmark = pytest.mark.anyio

OFFERS = "/sell/inventory/v1/offer?sku=OC-1"


async def test_token_endpoint_mints_a_two_hour_user_token(wire):
    response = await wire.mint()
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "User Access Token" and body["expires_in"] == 7200
    assert body["access_token"].startswith("v^1.1#")


async def test_token_endpoint_refuses_bad_clients_grants_and_scopes(wire, backend):
    backend.config = EbaySimulatorConfig(client_id="app-1", client_secret="s3cret", refresh_token="rt-1")
    response = await wire.mint()
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client", "error_description": "client authentication failed"}

    backend.config = EbaySimulatorConfig(refresh_token="rt-1")
    refused = await wire.mint(refresh_token="stolen")
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert (await wire.mint(refresh_token="rt-1", grant_type="password")).json()[
        "error"
    ] == "unsupported_grant_type"
    scope = await wire.mint(refresh_token="rt-1", scope="https://api.ebay.com/oauth/api_scope/buy.order")
    assert scope.json()["error"] == "invalid_scope"


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic YTpi"])
async def test_sell_calls_without_a_live_token_get_401_in_ebays_shape(wire, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = await wire.http.get(f"http://sim/ebay{OFFERS}", headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "errors": [
            {
                "errorId": 1001,
                "domain": "OAuth",
                "category": "REQUEST",
                "message": "Invalid access token",
                "longMessage": "Invalid access token. Check the value of the Authorization HTTP request header.",
            }
        ]
    }


async def test_a_token_without_the_operations_scope_gets_403(wire):
    wire.token = (await wire.mint(scope="https://api.ebay.com/oauth/api_scope/sell.inventory")).json()[
        "access_token"
    ]
    assert (await wire("GET", OFFERS)).status_code == 404  # inventory: allowed (and no such offer)
    response = await wire("GET", "/sell/fulfillment/v1/order")
    assert response.status_code == 403 and response.json()["errors"][0]["errorId"] == 1100


async def test_client_mints_once_and_reuses_the_token(client, recorder):
    assert await client.find_by_sku("OC-1") is None
    assert await client.find_by_sku("OC-2") is None
    token_calls = recorder.calls("POST", "/oauth2/token")
    assert len(token_calls) == 1
    form = token_calls[0].request.content.decode()
    assert "grant_type=refresh_token" in form and "sell.inventory" in form and "sell.fulfillment" in form
    assert token_calls[0].request.headers["authorization"].startswith("Basic ")
    assert client.budget().used == 3  # the token counts too


async def test_a_token_that_died_on_ebays_side_is_renewed_once_and_the_call_repeated(
    make_client, sim, recorder
):
    started = sim.clock.now()
    async with make_client(clock=lambda: started) as client:  # the client's clock stands still
        await client.find_by_sku("OC-1")
        sim.clock.advance(2.01)  # eBay's: the token has expired
        assert await client.find_by_sku("OC-1") is None
    statuses = [(e.request.url.path.rsplit("/", 1)[-1], e.status) for e in recorder.exchanges]
    assert statuses == [("token", 200), ("offer", 404), ("offer", 401), ("token", 200), ("offer", 404)]


async def test_client_renews_ahead_of_expiry_by_its_own_clock(make_client, sim, recorder):
    now = [sim.clock.now()]
    async with make_client(clock=lambda: now[0]) as client:
        await client.find_by_sku("OC-1")
        now[0] += timedelta(hours=1, minutes=59, seconds=30)  # inside the one-minute margin
        await client.find_by_sku("OC-1")
    assert [e.status for e in recorder.exchanges] == [200, 404, 200, 404]  # no 401 on the way


async def test_refused_refresh_token_is_a_channel_error_for_a_person(make_client, backend):
    backend.config = EbaySimulatorConfig(refresh_token="the-real-one")
    async with make_client(refresh_token="revoked") as client:
        with pytest.raises(ChannelError) as caught:
            await client.find_by_sku("OC-1")
    assert not caught.value.retryable and caught.value.status == 400
    assert caught.value.details["error"] == "invalid_grant"
