"""OAuth 1.0a: the client signs with PLAINTEXT or HMAC-SHA1 and the simulator checks what Trade Me
checks; anything else is a 401 with Trade Me's error body."""

from __future__ import annotations

import pytest
from oauthlib.oauth1 import Client as OAuth1Client

from retail_pipeline.integrations.marketplaces.base import ChannelError

from .conftest import BASE, Wire

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("method", ["PLAINTEXT", "HMAC-SHA1"])
async def test_client_signs_with_either_method(make_client, sim, method):
    async with make_client(signature_method=method) as client:
        assert (await client.account_summary()).nickname == "retail_pipeline_nz"
        assert [r async for r in client.selling()] == []  # a query string is signed too
    statuses = [(e.path, e.status) for e in sim.journal.entries("trademe")]
    assert statuses == [
        ("/v1/MyTradeMe/Summary.json", 200),
        ("/v1/MyTradeMe/SellingItems/All.json", 200),
    ]


async def test_plaintext_header_as_trade_me_documents_it(wire: Wire, backend):
    config = backend.config
    header = (
        f'OAuth oauth_consumer_key="{config.consumer_key}", oauth_token="{config.oauth_token}", '
        f'oauth_signature_method="PLAINTEXT", '
        f'oauth_signature="{config.consumer_secret}%26{config.oauth_token_secret}"'
    )
    response = await wire.http.get(f"{BASE}/v1/MyTradeMe/Summary.json", headers={"Authorization": header})
    assert response.status_code == 200


async def test_a_wrong_secret_is_a_401_the_client_does_not_retry(make_client, sim):
    async with make_client(consumer_secret="not-the-secret") as client:
        with pytest.raises(ChannelError) as error:
            await client.account_summary()
    assert error.value.status == 401 and not error.value.retryable
    assert error.value.details == {"ErrorDescription": "Invalid signature."}
    assert len(sim.journal.entries("trademe")) == 1


@pytest.mark.parametrize(
    ("change", "description"),
    [
        ({"consumer_key": "someone-else"}, "Invalid consumer key."),
        ({"oauth_token": "revoked"}, "Invalid or expired access token."),
        ({"oauth_token_secret": "wrong"}, "Invalid signature."),
    ],
)
async def test_credentials_are_checked(wire: Wire, backend, change, description):
    config = backend.config.model_copy(update=change)
    oauth = OAuth1Client(
        config.consumer_key,
        client_secret=config.consumer_secret,
        resource_owner_key=config.oauth_token,
        resource_owner_secret=config.oauth_token_secret,
        signature_method="HMAC-SHA1",
    )
    url = f"{BASE}/v1/MyTradeMe/Summary.json"
    _, headers, _ = oauth.sign(url, "GET")
    response = await wire.http.get(url, headers=headers)
    assert (response.status_code, response.json()) == (401, {"ErrorDescription": description})


async def test_hmac_signature_covers_the_query_and_nonces_are_not_replayed(wire: Wire, backend):
    hmac = Wire(wire.http, backend, "HMAC-SHA1")
    signed = hmac.signed("GET", "/v1/MyTradeMe/SellingItems/All.json?rows=5")
    tampered = await wire.http.get(f"{BASE}/v1/MyTradeMe/SellingItems/All.json?rows=50", headers=signed)
    assert (tampered.status_code, tampered.json()["ErrorDescription"]) == (401, "Invalid signature.")

    signed = hmac.signed("GET", "/v1/MyTradeMe/Summary.json")
    first = await wire.http.get(f"{BASE}/v1/MyTradeMe/Summary.json", headers=signed)
    replayed = await wire.http.get(f"{BASE}/v1/MyTradeMe/Summary.json", headers=signed)
    assert first.status_code == 200
    assert (replayed.status_code, replayed.json()["ErrorDescription"]) == (
        401,
        "The oauth_nonce has already been used.",
    )


@pytest.mark.parametrize(
    ("header", "description"),
    [
        (None, "Missing OAuth Authorization header."),
        ("Bearer abc", "Missing OAuth Authorization header."),
        ('OAuth oauth_consumer_key="x"', "Missing OAuth parameter oauth_token."),
    ],
)
async def test_requests_without_oauth_are_refused(wire: Wire, header, description):
    headers = {"Authorization": header} if header else {}
    response = await wire.http.get(f"{BASE}/v1/MyTradeMe/Summary.json", headers=headers)
    assert (response.status_code, response.json()) == (401, {"ErrorDescription": description})


async def test_unsupported_signature_method_is_refused(wire: Wire, backend):
    config = backend.config
    header = (
        f'OAuth oauth_consumer_key="{config.consumer_key}", oauth_token="{config.oauth_token}", '
        'oauth_signature_method="RSA-SHA1", oauth_signature="abc"'
    )
    response = await wire.http.get(f"{BASE}/v1/MyTradeMe/Summary.json", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["ErrorDescription"].startswith("Unsupported signature method RSA-SHA1")
