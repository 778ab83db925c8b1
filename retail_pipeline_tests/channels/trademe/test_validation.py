"""Every listing rule, as Selling/Validate reports it (ValidationErrors, never lists) and as Selling
refuses it (200, Success false, nothing listed); malformed requests are 400s with ErrorDescription."""

from __future__ import annotations

from datetime import timedelta

import pytest

from retail_pipeline.integrations.marketplaces.base import ChannelError
from retail_pipeline.simulators.trademe.responses import tm_date

from .conftest import Wire, image_bytes, listing_body, make_draft

pytestmark = pytest.mark.anyio

RULES = [
    ("title 81", {"Title": "x" * 81}, "Title must be 80 characters or fewer (it has 81)."),
    ("no title", {"Title": None}, "Title is required."),
    ("blank title", {"Title": "   "}, "Title is required."),
    ("subtitle 51", {"Subtitle": "x" * 51}, "Subtitle must be 50 characters or fewer."),
    ("no description", {"Description": None}, "Description is required."),
    ("empty description", {"Description": ["", " "]}, "Description is required."),
    ("description 2049", {"Description": ["x" * 2049]}, "Description must be 2048 characters or fewer."),
    ("no category", {"Category": None}, "Category is required."),
    ("bad category", {"Category": "headphones"}, "Category 'headphones' is not a valid category."),
    ("no duration", {"Duration": None}, "Duration is required."),
    ("duration 8", {"Duration": 8}, "Duration 8 is not available in this category."),
    ("until withdrawn", {"Duration": "UntilWithdrawn"}, "Duration -1 is not available in this category."),
    ("end date missing", {"Duration": 0}, "EndDateTime is required when the Duration is EndDate."),
    ("no start price", {"StartPrice": None}, "StartPrice is required."),
    (
        "start price 0.30",
        {"StartPrice": 0.3, "BuyNowPrice": None, "Quantity": None},
        "StartPrice must be at least $0.50.",
    ),
    (
        "buy now below start",
        {"BuyNowPrice": 300.0},
        "BuyNowPrice must be greater than or equal to the StartPrice.",
    ),
    (
        "reserve below start",
        {"ReservePrice": 100.0},
        "ReservePrice must be greater than or equal to the StartPrice.",
    ),
    ("quantity 0", {"Quantity": 0}, "Quantity must be between 1 and 1000."),
    ("quantity 1001", {"Quantity": 1001}, "Quantity must be between 1 and 1000."),
    (
        "quantity without buy now",
        {"BuyNowPrice": None},
        "A Quantity makes the listing Buy Now only: BuyNowPrice is required.",
    ),
    ("pickup 7", {"Pickup": 7}, "Pickup 7 is not a valid pick-up option."),
    ("no payment methods", {"PaymentMethods": None}, "At least one payment method is required."),
    ("safetrader", {"PaymentMethods": [1, 8]}, "Payment method 8 cannot be used when listing."),
    (
        "no shipping",
        {"ShippingOptions": None},
        "At least one shipping option is required unless pick-up is demanded.",
    ),
    (
        "11 shipping options",
        {"ShippingOptions": [{"Type": 4, "Price": 5.0 + i, "Method": f"Zone {i}"} for i in range(11)]},
        "No more than 10 shipping options are allowed.",
    ),
    (
        "pickup as shipping",
        {"ShippingOptions": [{"Type": 2}]},
        "Shipping option type 2 cannot be used when listing.",
    ),
    (
        "free with custom",
        {"ShippingOptions": [{"Type": 3}, {"Type": 4, "Price": 5.0, "Method": "Rural"}]},
        "Undecided and Free shipping cannot be combined with other shipping options.",
    ),
    (
        "custom without method",
        {"ShippingOptions": [{"Type": 4, "Price": 5.0}]},
        "A custom shipping option needs a Price and a Method.",
    ),
    ("unknown photo", {"PhotoIds": [999]}, "Photo 999 does not exist or does not belong to you."),
    ("21 photos", {"PhotoIds": list(range(21))}, "No more than 20 photos are allowed."),
    (
        "attribute without value",
        {"Attributes": [{"Name": "Colour"}]},
        "Each attribute needs a Name and a Value.",
    ),
    ("sku 51", {"SKU": "S" * 51}, "SKU must be 50 characters or fewer."),
    (
        "reference 51",
        {"ExternalReferenceId": "R" * 51},
        "ExternalReferenceId must be 50 characters or fewer.",
    ),
]


@pytest.mark.parametrize(("change", "message"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
async def test_each_rule_via_validate_and_selling(wire: Wire, backend, change, message):
    validated = await wire("POST", "/v1/Selling/Validate.json", listing_body(**change))
    assert validated.status_code == 200
    assert validated.json() == {
        "Success": False,
        "Description": message,
        "ValidationErrors": [{"Message": message}],
    }

    listed = await wire("POST", "/v1/Selling.json", listing_body(**change))
    assert listed.status_code == 200
    assert listed.json() == {"Success": False, "Description": message, "ListingId": 0}
    assert backend.listings == {}


async def test_every_broken_rule_is_reported(wire: Wire):
    body = listing_body(Title="x" * 81, Quantity=0, PhotoIds=[5])
    errors = (await wire("POST", "/v1/Selling/Validate.json", body)).json()["ValidationErrors"]
    assert [e["Message"] for e in errors] == [
        "Title must be 80 characters or fewer (it has 81).",
        "Quantity must be between 1 and 1000.",
        "Photo 5 does not exist or does not belong to you.",
    ]


async def test_end_dates_must_be_in_the_next_56_days(wire: Wire, sim):
    now = sim.clock.now()
    for end, ok in (
        (now - timedelta(hours=1), False),
        (now + timedelta(days=57), False),
        (now + timedelta(days=3), True),
    ):
        body = listing_body(Duration="EndDate", EndDateTime=tm_date(end))
        assert (await wire("POST", "/v1/Selling/Validate.json", body)).json()["Success"] is ok


async def test_valid_requests_pass_and_validate_never_lists(wire: Wire, backend):
    demanded_pickup = listing_body(Pickup=2, ShippingOptions=None)
    by_name = listing_body(
        Duration="Seven",
        Pickup="Allow",
        PaymentMethods=["BankDeposit", "CreditCard"],
        ShippingOptions=[{"Type": "Custom", "Price": 9.5, "Method": "Courier"}],
    )
    auction = listing_body(Quantity=None, BuyNowPrice=None, StartPrice=1.0, ReservePrice=150.0)
    for body in (listing_body(), demanded_pickup, by_name, auction):
        response = await wire("POST", "/v1/Selling/Validate.json", body)
        assert response.json() == {"Success": True, "Description": None, "ValidationErrors": []}
    assert backend.listings == {}


async def test_photos_must_belong_to_the_member(wire: Wire, backend):
    theirs = backend.add_photo(image_bytes(), "theirs.jpg", "JPG", member_id=42)
    mine = backend.add_photo(image_bytes(), "mine.jpg", "JPG")
    assert (await wire("POST", "/v1/Selling/Validate.json", listing_body(PhotoIds=[mine.photo_id]))).json()[
        "Success"
    ]
    refused = (await wire("POST", "/v1/Selling.json", listing_body(PhotoIds=[theirs.photo_id]))).json()
    assert refused["Description"] == f"Photo {theirs.photo_id} does not exist or does not belong to you."


MALFORMED = [
    ("title number", {"Title": 5}, "Error converting value 5 to type 'String'. Path 'Title'."),
    ("description string", {"Description": "one line"}, "Path 'Description'."),
    ("description numbers", {"Description": [1, 2]}, "Path 'Description'."),
    (
        "price string",
        {"StartPrice": "349.00"},
        "Error converting value '349.00' to type 'Decimal'. Path 'StartPrice'.",
    ),
    ("quantity float", {"Quantity": 1.5}, "Error converting value 1.5 to type 'Int32'. Path 'Quantity'."),
    ("unknown duration name", {"Duration": "Eight"}, "Error converting value 'Eight' to type 'Duration'."),
    ("boolean string", {"IsBrandNew": "yes"}, "Path 'IsBrandNew'."),
    ("photo id strings", {"PhotoIds": ["1"]}, "Path 'PhotoIds'."),
    ("shipping not a list", {"ShippingOptions": {"Type": 4}}, "Path 'ShippingOptions'."),
    ("shipping type name", {"ShippingOptions": [{"Type": "Drone"}]}, "Path 'ShippingOptions[0].Type'."),
    ("bad date", {"Duration": 0, "EndDateTime": "tomorrow"}, "Path 'EndDateTime'."),
]


@pytest.mark.parametrize(("change", "fragment"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
async def test_malformed_requests_are_400s(wire: Wire, backend, change, fragment):
    for path in ("/v1/Selling/Validate.json", "/v1/Selling.json"):
        response = await wire("POST", path, listing_body(**change))
        assert response.status_code == 400
        assert fragment in response.json()["ErrorDescription"]
    assert backend.listings == {}


@pytest.mark.parametrize("content", [b"{not json", b"[]", b'"a string"'])
async def test_bodies_that_are_not_json_objects_are_400s(wire: Wire, content):
    response = await wire(
        "POST", "/v1/Selling.json", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and "ErrorDescription" in response.json()


async def test_property_names_match_case_insensitively(wire: Wire):
    body = {k.lower(): v for k, v in listing_body().items()}
    assert (await wire("POST", "/v1/Selling/Validate.json", body)).json()["Success"] is True


async def test_client_validate_reports_messages_and_create_refuses(client, backend, sim):
    assert await client.validate(make_draft()) == []
    assert await client.validate(make_draft(title="x" * 81)) == [
        "Title must be 80 characters or fewer (it has 81)."
    ]
    with pytest.raises(ChannelError) as error:
        await client.create(make_draft(quantity=1001))
    assert not error.value.retryable and error.value.status is None
    assert error.value.details["Description"] == "Quantity must be between 1 and 1000."
    assert backend.listings == {}
    assert [e.path for e in sim.journal.entries("trademe")] == ["/v1/Selling/Validate.json"] * 2 + [
        "/v1/Selling.json"
    ]


async def test_the_client_refuses_other_currencies_without_a_call(client, sim):
    assert await client.validate(make_draft(currency="USD")) == ["Trade Me lists in NZD, not USD"]
    with pytest.raises(ChannelError):
        await client.create(make_draft(currency="USD"))
    assert sim.journal.entries("trademe") == []
