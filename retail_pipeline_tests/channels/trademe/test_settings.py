"""Configuration: where the client points and with which credentials, from the environment."""

from __future__ import annotations

import os

import pytest

from retail_pipeline.channels.trademe import (
    SIMULATOR_CREDENTIALS,
    TRADEME_API,
    TRADEME_SANDBOX_API,
    TradeMeClient,
    TradeMeSettings,
)
from retail_pipeline.settings import get_settings
from retail_pipeline.simulators.trademe import TradeMeSimulatorConfig

from .conftest import make_draft


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch):
    """No TRADEME_* from the machine; settings re-read after each change."""
    for name in [n for n in os.environ if n.startswith("TRADEME_")]:
        monkeypatch.delenv(name)

    def set_env(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()

    yield set_env
    get_settings.cache_clear()


def test_simulating_by_default_with_the_simulators_own_credentials(environment):
    environment(SIMULATOR_URL="http://127.0.0.1:9999", USE_SIMULATORS="true")
    base, credentials = TradeMeSettings().endpoint()
    assert (base, credentials) == ("http://127.0.0.1:9999/trademe", SIMULATOR_CREDENTIALS)
    config = TradeMeSimulatorConfig()
    assert (
        config.consumer_key,
        config.consumer_secret,
        config.oauth_token,
        config.oauth_token_secret,
    ) == SIMULATOR_CREDENTIALS


def test_the_live_api_needs_real_credentials(environment):
    environment(USE_SIMULATORS="false")
    with pytest.raises(ValueError, match="TRADEME_CONSUMER_KEY"):
        TradeMeSettings().endpoint()
    environment(
        TRADEME_CONSUMER_KEY="ck",
        TRADEME_CONSUMER_SECRET="cs",
        TRADEME_OAUTH_TOKEN="tk",
        TRADEME_OAUTH_TOKEN_SECRET="ts",
        TRADEME_SIGNATURE_METHOD="HMAC-SHA1",
    )
    settings = TradeMeSettings()
    assert settings.endpoint() == (TRADEME_API, ("ck", "cs", "tk", "ts"))
    assert settings.signature_method == "HMAC-SHA1"
    assert "cs" not in repr(settings) and "ts" not in repr(settings.oauth_token_secret)


@pytest.mark.anyio
async def test_sandbox_listings_link_to_the_sandbox_site(environment):
    environment(
        TRADEME_BASE_URL=TRADEME_SANDBOX_API,
        TRADEME_CONSUMER_KEY="ck",
        TRADEME_CONSUMER_SECRET="cs",
        TRADEME_OAUTH_TOKEN="tk",
        TRADEME_OAUTH_TOKEN_SECRET="ts",
    )
    client = TradeMeClient()
    assert client.base_url == TRADEME_SANDBOX_API
    assert client.listing_url(123) == "https://www.tmsandbox.co.nz/Browse/Listing.aspx?id=123"
    await client.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["PLAINTEXT", "HMAC-SHA1"])
async def test_against_the_simulator_on_loopback_with_defaults(environment, simulator_url, method):
    environment(TRADEME_SIGNATURE_METHOD=method)
    async with TradeMeClient() as client:
        assert client.base_url == f"{simulator_url}/trademe"
        created = await client.create(make_draft(sku="LOOP-1"))
        found = await client.find_by_sku("LOOP-1")
    assert found is not None and found.external_id == created.external_id
