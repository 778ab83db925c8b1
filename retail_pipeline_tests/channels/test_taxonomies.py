"""The channels' taxonomies through their clients against the simulators (which serve one shared tree in
each channel's own ids and wire format): the shapes each API documents (checked as closed schemas, so a
field the simulator invents or the client relies on wrongly fails), the tokens and errors."""

from __future__ import annotations

import httpx
import pytest
from jsonschema import Draft202012Validator

from retail_pipeline.channels.ebay import CHANNEL as EBAY
from retail_pipeline.channels.ebay import EbayClient, EbaySettings
from retail_pipeline.channels.reverb import CHANNEL as REVERB
from retail_pipeline.channels.reverb import ReverbClient, ReverbSettings
from retail_pipeline.channels.trademe import CHANNEL as TRADEME
from retail_pipeline.channels.trademe import TradeMeClient, TradeMeSettings
from retail_pipeline.domain.channel_categories import choose, query_for, strict_schema
from retail_pipeline.integrations.budgets import DAY, HOUR, WindowedCallBudget
from retail_pipeline.integrations.marketplaces.base import ChannelError
from retail_pipeline.simulators import SimulatorConfig, build_simulator_app

pytestmark = pytest.mark.anyio

S, N, B = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}


def closed(required: list[str], **properties) -> dict:
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": False}


def array(items: dict) -> dict:
    return {"type": "array", "items": items}


# eBay Taxonomy API v1 (commerce_taxonomy_v1_oas3): CategorySuggestionResponse and AspectMetadata, the
# fields the simulator gives, typed as the spec types them.
CATEGORY = closed(["categoryId", "categoryName"], categoryId=S, categoryName=S)
ANCESTOR = closed(
    ["categoryId", "categoryName", "categoryTreeNodeLevel"],
    categoryId=S, categoryName=S, categorySubtreeNodeHref=S, categoryTreeNodeLevel=N,
)  # fmt: skip
SUGGESTIONS = closed(
    ["categorySuggestions", "categoryTreeId", "categoryTreeVersion"],
    categorySuggestions=array(
        closed(["category", "categoryTreeNodeAncestors", "categoryTreeNodeLevel"], category=CATEGORY,
               categoryTreeNodeAncestors=array(ANCESTOR), categoryTreeNodeLevel=N)
    ),
    categoryTreeId=S, categoryTreeVersion=S,
)  # fmt: skip
CONSTRAINT = closed(
    ["aspectDataType", "aspectMode", "aspectRequired", "aspectUsage", "itemToAspectCardinality"],
    aspectDataType={"enum": ["STRING", "NUMBER", "DATE"]}, aspectEnabledForVariations=B,
    aspectMode={"enum": ["FREE_TEXT", "SELECTION_ONLY"]}, aspectRequired=B, aspectMaxLength=N,
    aspectUsage={"enum": ["RECOMMENDED", "OPTIONAL"]}, itemToAspectCardinality={"enum": ["SINGLE", "MULTI"]},
)  # fmt: skip
ASPECTS = closed(
    ["aspects"],
    aspects=array(closed(["localizedAspectName", "aspectConstraint"], localizedAspectName=S,
                         aspectConstraint=CONSTRAINT, aspectValues=array(closed(["localizedValue"], localizedValue=S)))),
)  # fmt: skip
# Trade Me: SearchSuggestions (Search/Suggestions) and CategoryDetails' Attributes.
TM_SUGGESTIONS = {
    "type": "object",
    "required": ["CategorySuggestions"],
    "properties": {
        "CategorySuggestions": array(
            closed(["Id", "Name", "AncestorsNames"], Id=N, Name=S, AncestorsNames=array(S))
        )
    },
}
TM_ATTRIBUTE = closed(
    ["Name", "DisplayName", "Type", "IsRequiredForSell"],
    Name={"type": "string", "pattern": "^[A-Za-z0-9]+$"}, DisplayName=S, Type={"enum": [0, 1, 2, 3, 4, 5]},
    IsRequiredForSell=B, GroupName=S, MaxStringLength=N,
    Options=array(closed(["Value", "Display"], Value=S, Display=S)),
)  # fmt: skip
REVERB_FLAT = closed(
    ["categories"],
    categories=array(closed(["uuid", "name", "full_name", "root_uuid"], uuid=S, name=S, full_name=S, root_uuid=S,
                            _links={"type": "object"})),
)  # fmt: skip


def problems(schema: dict, body) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in Draft202012Validator(schema).iter_errors(body)]


class Recorder(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport):
        self.inner, self.seen = inner, []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self.seen.append((request, response))
        return response

    def bodies(self, path_end: str) -> list:
        return [r.json() for q, r in self.seen if q.url.path.endswith(path_end) and r.status_code == 200]


@pytest.fixture(scope="module")
def app():
    return build_simulator_app(SimulatorConfig(seed=7, products_per_supplier=2))


@pytest.fixture
def wire(app) -> Recorder:
    return Recorder(httpx.ASGITransport(app=app))


def ebay(wire) -> EbayClient:
    settings = EbaySettings(_env_file=None, base_url="http://sim/ebay", client_id="id", client_secret="secret",
                            refresh_token="refresh", merchant_location_key="default", fulfillment_policy_id="1",
                            payment_policy_id="1", return_policy_id="1", backoff_initial_seconds=0)  # fmt: skip
    return EbayClient(settings, transport=wire, budget=WindowedCallBudget("ebay", 5000, DAY, engine=None))


QUERY = query_for(
    title="Sony WH-1000XM5 Wireless Noise Cancelling Headphones", brand="Sony", category="Headphones"
)


async def test_ebay_taxonomy_suggestions_and_aspects_with_an_application_token(wire):
    client = ebay(wire)
    suggestions = await EBAY.taxonomy.suggest(client, QUERY)
    chosen = choose(suggestions).chosen
    assert chosen.path == "Electronics > Audio > Headphones > Headphones" and chosen.confidence >= 0.6
    attributes = await EBAY.taxonomy.attributes(client, chosen.category_id)
    schema = attributes.schema
    assert schema["required"] == ["Brand", "Model", "Form Factor", "Connectivity"]
    assert schema["properties"]["Form Factor"]["enum"] == ["Over-Ear", "On-Ear", "In-Ear", "Earbuds"]
    assert schema["properties"]["Connectivity"]["type"] == "array"  # MULTI
    strict = strict_schema(schema)  # what the LLM gets: closed, all present, each nullable
    assert strict["required"] == list(schema["properties"]) and strict["additionalProperties"] is False
    assert None in strict["properties"]["Form Factor"]["enum"]

    assert [problems(SUGGESTIONS, b) for b in wire.bodies("/get_category_suggestions")] == [[]]
    assert [problems(ASPECTS, b) for b in wire.bodies("/get_item_aspects_for_category")] == [[]]
    token_forms = [q.content.decode() for q, _ in wire.seen if q.url.path.endswith("/oauth2/token")]
    assert token_forms == [
        "grant_type=client_credentials&scope=https%3A%2F%2Fapi.ebay.com%2Foauth%2Fapi_scope"
    ]
    tree = [q.url.params["marketplace_id"] for q, _ in wire.seen if "default_category_tree" in q.url.path]
    assert tree == ["EBAY_US"]  # asked once per client

    with pytest.raises(ChannelError) as not_leaf:  # a branch is no listing category
        await client.item_aspects(_branch_id(chosen.category_id))
    assert not_leaf.value.details[0]["errorId"] == 62009
    # A seller's user token (sell scopes) is not what the Taxonomy API takes.
    user_token = await client._access_token()
    refused = await client._http.get(
        "/commerce/taxonomy/v1/get_default_category_tree_id",
        params={"marketplace_id": "EBAY_US"},
        headers={"Authorization": f"Bearer {user_token}"},
    )
    assert refused.status_code == 403
    await client.aclose()


def _branch_id(leaf_id: str) -> str:
    from retail_pipeline.simulators.ebay import taxonomy

    return taxonomy.ids()[taxonomy.nodes_by_id()[leaf_id].parent_key]


async def test_trademe_suggestions_and_category_details(wire):
    client = TradeMeClient(
        TradeMeSettings(_env_file=None, base_url="http://sim/trademe", consumer_key="sim-trademe-consumer-key",
                        consumer_secret="sim-trademe-consumer-secret", oauth_token="sim-trademe-oauth-token",
                        oauth_token_secret="sim-trademe-oauth-token-secret", backoff_initial_seconds=0),
        transport=wire, budget=WindowedCallBudget("trademe", 1000, HOUR, engine=None),
    )  # fmt: skip
    suggestions = await TRADEME.taxonomy.suggest(client, QUERY)
    chosen = choose(suggestions).chosen
    assert chosen.category_id.isdigit() and chosen.path.endswith("Headphones > Headphones")
    attributes = await TRADEME.taxonomy.attributes(client, chosen.category_id)
    assert attributes.schema["required"] == ["Brand", "Model", "FormFactor", "Connectivity"]
    assert [problems(TM_SUGGESTIONS, b) for b in wire.bodies("/Suggestions.json")] == [[]]
    (details,) = wire.bodies("/Details.json")
    assert [problems(TM_ATTRIBUTE, a) for a in details["Attributes"]] == [[]] * len(details["Attributes"])
    # The tree to a depth (Root, the top level, their children); an unknown category is a 404.
    tree = (await client._call("GET", "/v1/Categories.json", params={"depth": 2}))["Subcategories"]
    assert tree[0]["Number"].endswith("-") and "Subcategories" not in tree[0]["Subcategories"][0]
    with pytest.raises(ChannelError) as unknown:
        await client.category_details("999999")
    assert unknown.value.status == 404
    await client.aclose()


async def test_reverb_categories_are_musical_gear_ranked_locally(wire):
    client = ReverbClient(
        ReverbSettings(_env_file=None, base_url="http://sim/reverb/api", token="t"), transport=wire
    )
    guitar = query_for(title="Fender Player Stratocaster Electric Guitar", brand="Fender", category="Guitars")
    suggestions = await REVERB.taxonomy.suggest(client, guitar)
    assert choose(suggestions).chosen.path == "Guitars > Electric Guitars"
    assert await REVERB.taxonomy.suggest(client, QUERY) == []  # no Reverb category for headphones
    (flat,) = wire.bodies("/categories/flat")  # asked once per client
    assert problems(REVERB_FLAT, flat) == []
    assert all(not c["full_name"].startswith(("Electronics", "Home")) for c in flat["categories"])
    await client.aclose()
