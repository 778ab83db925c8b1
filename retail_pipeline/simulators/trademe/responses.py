"""Trade Me's wire format: reading request bodies into the model's forms, and writing its objects
as the API's JSON (ListedItemDetail forms, MyTradeMe list items, sold items, the member summary).

Reading is as strict as the documented types: a value of the wrong JSON type is a 400, as a failed
deserialisation is on the real API; property names match case-insensitively, as there. Enumerations
take their number or their name; an unknown name cannot be deserialised (400), an unknown number is
a business failure for the rules to report. Dates are written as ``/Date(<ms since epoch>)/``.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from PIL import Image, UnidentifiedImageError

from .exceptions import bad_request
from .models import (
    DURATIONS,
    PAYMENT_METHODS,
    PICKUP,
    SHIPPING_TYPES,
    WITHDRAW_TYPES,
    Buyer,
    Form,
    Listing,
    Parcel,
    Photo,
    Sale,
    TradeMeBackend,
    blank_form,
)

_DATE = re.compile(r"/Date\((-?\d+)([+-]\d{4})?\)/")
PHOTO_TYPES = {"JPG": "JPEG", "JPEG": "JPEG", "PNG": "PNG", "GIF": "GIF", "BMP": "BMP"}  # FileType → format
PHOTO_SIZES = ("Thumbnail", "List", "Medium", "Gallery", "Large", "FullSize", "PlusSize")
_FILE_NAME_FORBIDDEN = re.compile(r'["<>|]')
MEMBER_SINCE = datetime(2019, 3, 1, tzinfo=UTC)


# --- dates and money


def tm_date(moment: datetime | None) -> str | None:
    return None if moment is None else f"/Date({int(moment.timestamp() * 1000)})/"


def parse_tm_date(value: str) -> datetime:
    """``/Date(ms)/``, ``/Date(ms+hhmm)/`` (the offset is display only) or ISO 8601 (UTC if naive)."""
    if match := _DATE.fullmatch(value):
        return datetime.fromtimestamp(int(match[1]) / 1000, UTC)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def money(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


# --- reading requests


class RequestBody:
    """One JSON object of a request; ``path`` names it in error messages (``ShippingOptions[1]``)."""

    def __init__(self, data: Any, path: str = ""):
        if not isinstance(data, dict):
            raise bad_request(f"Expected a JSON object{f' at {path}' if path else ''}.")
        self.values = {str(k).lower(): v for k, v in data.items()}
        self.path = path

    def _where(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def _wrong(self, name: str, value: Any, kind: str) -> Exception:
        return bad_request(f"Error converting value {value!r} to type '{kind}'. Path '{self._where(name)}'.")

    def raw(self, name: str) -> Any:
        return self.values.get(name.lower())

    def string(self, name: str) -> str | None:
        value = self.raw(name)
        if value is not None and not isinstance(value, str):
            raise self._wrong(name, value, "String")
        return value

    def integer(self, name: str) -> int | None:
        value = self.raw(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise self._wrong(name, value, "Int32")
        return value

    def money(self, name: str) -> Decimal | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._wrong(name, value, "Decimal")
        return Decimal(str(value))

    def boolean(self, name: str) -> bool | None:
        value = self.raw(name)
        if value is not None and not isinstance(value, bool):
            raise self._wrong(name, value, "Boolean")
        return value

    def date(self, name: str) -> datetime | None:
        value = self.string(name)
        if value is None:
            return None
        try:
            return parse_tm_date(value)
        except ValueError:
            raise self._wrong(name, value, "DateTime") from None

    def enum(self, name: str, names: dict[str, int], value: Any = None) -> int | None:
        value = self.raw(name) if value is None else value
        if value is None:
            return None
        if isinstance(value, str):
            found = {k.lower(): v for k, v in names.items()}.get(value.lower())
            if found is None:
                raise self._wrong(name, value, name)
            return found
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(name, value, name)
        return value

    def array(self, name: str) -> list[Any]:
        value = self.raw(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._wrong(name, value, f"Collection of {name}")
        return value

    def objects(self, name: str) -> list[RequestBody]:
        return [RequestBody(item, f"{self._where(name)}[{i}]") for i, item in enumerate(self.array(name))]


def read_json_object(raw: bytes) -> RequestBody:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("The request body is not valid JSON.") from None
    return RequestBody(data)


def read_listing(body: RequestBody) -> Form:
    """A ListingRequest (or EditListingRequest) as the model's form; omitted fields take their defaults."""
    descriptions = body.array("Description")
    if not all(isinstance(line, str) for line in descriptions):
        raise bad_request(
            "Error converting Description: expected a collection of strings. Path 'Description'."
        )
    photo_ids = body.array("PhotoIds")
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in photo_ids):
        raise bad_request("Error converting PhotoIds: expected a collection of integers. Path 'PhotoIds'.")
    methods = [body.enum("PaymentMethods", PAYMENT_METHODS, m) for m in body.array("PaymentMethods")]
    shipping = [
        {"Type": o.enum("Type", SHIPPING_TYPES), "Price": o.money("Price"), "Method": o.string("Method")}
        for o in body.objects("ShippingOptions")
    ]
    attributes = [
        {"Name": a.string("Name"), "Value": a.string("Value"), "Unit": a.string("Unit")}
        for a in body.objects("Attributes")
    ]
    spec = body.raw("ProductSpecification")
    product = None
    if spec is not None:
        spec_body = RequestBody(spec, "ProductSpecification")
        product = {k: spec_body.string(k) for k in ("GTIN", "Brand", "ManufacturerCode")}
    form = {
        "Category": body.string("Category"),
        "Title": body.string("Title"),
        "Subtitle": body.string("Subtitle"),
        "Description": descriptions,
        "StartPrice": body.money("StartPrice"),
        "ReservePrice": body.money("ReservePrice"),
        "BuyNowPrice": body.money("BuyNowPrice"),
        "Duration": body.enum("Duration", DURATIONS),
        "EndDateTime": body.date("EndDateTime"),
        "Pickup": body.enum("Pickup", PICKUP),
        "IsBrandNew": body.boolean("IsBrandNew"),
        "Quantity": body.integer("Quantity"),
        "IsFlatShippingCharge": body.boolean("IsFlatShippingCharge"),
        "PhotoIds": photo_ids,
        "ShippingOptions": shipping,
        "PaymentMethods": methods,
        "OtherPaymentMethod": body.string("OtherPaymentMethod"),
        "Attributes": attributes,
        "SKU": body.string("SKU"),
        "ExternalReferenceId": body.string("ExternalReferenceId"),
        "ProductSpecification": product,
    }
    defaults = blank_form()
    return {name: defaults[name] if value is None else value for name, value in form.items()}


def required_listing_id(body: RequestBody) -> int:
    listing_id = body.integer("ListingId")
    if listing_id is None:
        raise bad_request("ListingId is required.")
    return listing_id


def read_withdraw(body: RequestBody) -> tuple[int, int, str | None, Decimal | None]:
    withdraw_type = body.enum("Type", WITHDRAW_TYPES)
    if withdraw_type is None:
        raise bad_request("Type is required.")
    return required_listing_id(body), withdraw_type, body.string("Reason"), body.money("SalePrice")


def read_photo(body: RequestBody) -> tuple[bytes, str, str]:
    """(data, file name, file type) of a PhotoUploadRequest whose data is an image of
    the stated type; anything else is a 400."""
    data, file_name, file_type = body.string("PhotoData"), body.string("FileName"), body.string("FileType")
    if not data or not file_name or not file_type:
        raise bad_request("PhotoData, FileName and FileType are required.")
    kind = PHOTO_TYPES.get(file_type.upper())
    if kind is None:
        raise bad_request(f"FileType '{file_type}' is not supported: use BMP, GIF, JPG, JPEG or PNG.")
    file_name = re.split(r"[\\/]", file_name)[-1]
    if _FILE_NAME_FORBIDDEN.search(file_name):
        raise bad_request('FileName may not contain " < > or |.')
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("PhotoData is not valid base64.") from None
    try:
        with Image.open(io.BytesIO(raw)) as image:
            found = image.format
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise bad_request("PhotoData is not an image.") from None
    if found != kind:
        raise bad_request(f"PhotoData is a {found} image, not {file_type.upper()}.")
    return raw, file_name, "JPG" if kind == "JPEG" else kind


def read_parcel(body: RequestBody) -> tuple[str, str, list[int], str | None]:
    parcel = body.raw("Parcel")
    if parcel is None:
        raise bad_request("Parcel is required.")
    parcel_body = RequestBody(parcel, "Parcel")
    ids = parcel_body.array("AuctionSoldIds")
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise bad_request("Error converting AuctionSoldIds: expected integers. Path 'Parcel.AuctionSoldIds'.")
    return (
        parcel_body.string("CourierCompany") or "",
        parcel_body.string("TrackingReference") or "",
        ids,
        parcel_body.string("AccountNumber"),
    )


def page_params(query: dict[str, str], *, max_rows: int = 500) -> tuple[int, int]:
    """page (from 1) and rows (default 50; capped at 500, an unverified limit)."""
    try:
        page, rows = int(query.get("page", 1)), int(query.get("rows", 50))
    except ValueError:
        raise bad_request("page and rows must be integers.") from None
    if page < 1 or rows < 1:
        raise bad_request("page and rows must be at least 1.")
    return page, min(rows, max_rows)


def paged(items: list[dict[str, Any]], page: int, rows: int) -> dict[str, Any]:
    return {
        "TotalCount": len(items),
        "Page": page,
        "PageSize": rows,
        "List": items[(page - 1) * rows : page * rows],
    }


# --- writing responses


def photo_urls(base_url: str, photo: Photo) -> dict[str, Any]:
    """Each size at the simulator's photo server (which serves the uploaded image for every size)."""
    extension = photo.file_type.lower()
    urls: dict[str, Any] = {
        size: f"{base_url}/photoserver/{size.lower()}/{photo.photo_id}.{extension}" for size in PHOTO_SIZES
    }
    return {**urls, "PhotoId": photo.photo_id}


def _form_json(form: Form) -> dict[str, Any]:
    shipping = [
        {"Type": o["Type"], "Price": money(o["Price"]), "Method": o["Method"]}
        for o in form["ShippingOptions"]
    ]
    return {
        **form,
        "StartPrice": money(form["StartPrice"]),
        "ReservePrice": money(form["ReservePrice"]),
        "BuyNowPrice": money(form["BuyNowPrice"]),
        "EndDateTime": tm_date(form["EndDateTime"]),
        "ShippingOptions": shipping,
    }


def listing_form(listing: Listing) -> dict[str, Any]:
    """GET Selling/Listings/{id}: the listing as an edit form, ready to change and send back."""
    return {
        **_form_json(listing.form),
        "ListingId": listing.listing_id,
        "StartDate": tm_date(listing.start_date),
        "HasBeenExtended": False,
    }


def _price_display(form: Form) -> str:
    price = form["BuyNowPrice"] if form["BuyNowPrice"] is not None else form["StartPrice"]
    return f"${price:,.2f}" if price is not None else ""


def _listing_summary(
    backend: TradeMeBackend, listing: Listing, base_url: str, photo_size: str
) -> dict[str, Any]:
    """The fields MyTradeMe list items share (SellingItems, SoldItems)."""
    form = listing.form
    photos = [backend.photos[i] for i in form["PhotoIds"] if i in backend.photos]
    buy_now_only = form["Quantity"] is not None
    reserve = form["ReservePrice"]
    reserve_state = 3 if buy_now_only else (2 if reserve is not None else 0)  # NotApplicable/NotMet/None
    return {
        "ListingId": listing.listing_id,
        "Title": form["Title"],
        "Category": form["Category"],
        "StartPrice": money(form["StartPrice"]),
        "BuyNowPrice": money(form["BuyNowPrice"]),
        "StartDate": tm_date(listing.start_date),
        "EndDate": tm_date(listing.end_date),
        "AsAt": tm_date(backend.now()),
        "PictureHref": photo_urls(base_url, photos[0])[photo_size] if photos else None,
        "PhotoId": photos[0].photo_id if photos else None,
        "HasExtraPhotos": len(photos) > 1,
        "BidCount": 0,
        "ViewCount": 0,
        "HasReserve": reserve is not None,
        "IsReserveMet": False,
        "ReserveState": reserve_state,
        "HasBuyNow": form["BuyNowPrice"] is not None,
        "IsBuyNowOnly": buy_now_only,
        "IsClassified": False,
        "Subtitle": form["Subtitle"],
        "ReservePrice": money(reserve),
        "Attributes": [
            {"Name": a["Name"], "DisplayName": a["Name"], "Value": a["Value"]} for a in form["Attributes"]
        ],
        "ExternalReferenceId": form["ExternalReferenceId"],
        "SKU": form["SKU"],
        "IsClearance": False,
    }


def selling_item(backend: TradeMeBackend, listing: Listing, base_url: str, photo_size: str) -> dict[str, Any]:
    return {
        **_listing_summary(backend, listing, base_url, photo_size),
        "Quantity": listing.form["Quantity"],
        "PriceDisplay": _price_display(listing.form),
        "UnansweredQuestionCount": 0,
    }


def _member(buyer: Buyer) -> dict[str, Any]:
    return {
        "MemberId": buyer.member_id,
        "Nickname": buyer.nickname,
        "Email": buyer.email,
        "DateJoined": tm_date(buyer.date_joined),
        "FeedbackCount": 0,
        "IsAddressVerified": True,
        "Suburb": buyer.suburb,
    }


def _delivery_address(buyer: Buyer) -> dict[str, Any]:
    return {
        "Name": buyer.name,
        "Address1": buyer.address1,
        "Address2": None,
        "Suburb": buyer.suburb,
        "City": buyer.city,
        "Postcode": buyer.postcode,
        "Country": "New Zealand",
        "PhoneNumber": buyer.phone,
    }


def _selected_shipping(sale: Sale) -> tuple[str, int]:
    option = sale.shipping
    if option is None:
        return "Pick up", 2
    if option["Type"] == 3:
        return "Free shipping within New Zealand", 3
    if option["Type"] == 1:
        return "Shipping to be arranged", 1
    return f"${sale.shipping_price:,.2f} {option['Method'] or 'Courier'}", option["Type"]


def sold_item(backend: TradeMeBackend, sale: Sale, base_url: str, photo_size: str) -> dict[str, Any]:
    listing, buyer = sale.listing, sale.buyer
    summary = _listing_summary(backend, listing, base_url, photo_size)
    form = sale.listing_form  # what the buyer bought, whatever the listing became since
    selected, shipping_type = _selected_shipping(sale)
    total = sale.subtotal + sale.total_shipping_price
    parcels = [backend.parcels[i] for i in sale.parcel_ids]
    return {
        **summary,
        "Title": form["Title"],
        "SKU": form["SKU"],
        "ExternalReferenceId": form["ExternalReferenceId"],
        "IsFlatShippingCharge": form["IsFlatShippingCharge"],
        "Status": sale.status,
        "StatusDate": tm_date(sale.status_date),
        "SoldDate": tm_date(sale.sold_date),
        "SoldType": sale.sold_type,
        "SalePrice": money(sale.subtotal),
        "SelectedShipping": selected,
        "BuyerDeliveryAddress": ", ".join((buyer.address1, buyer.suburb, buyer.city, buyer.postcode)),
        "MessageFromBuyer": None,
        "IsPayNowPurchase": sale.payment_method == 2,
        "IsPaymentPending": False,
        "ShippingPrice": money(sale.shipping_price),
        "ShippingType": shipping_type,
        "HasSellerPlaceFeedback": False,
        "HasBuyerPlaceFeedback": False,
        "Buyer": _member(buyer),
        "DeliveryAddress": _delivery_address(buyer),
        "QuantitySold": sale.quantity,
        "PurchaseId": sale.purchase_id,
        "ReferenceNumber": sale.reference_number,
        "Price": money(sale.unit_price),
        "SubtotalPrice": money(sale.subtotal),
        "TotalShippingPrice": money(sale.total_shipping_price),
        "TotalSalePrice": money(total),
        "OrderId": None,
        "PaymentMethod": sale.payment_method,
        "TrackedParcels": [_tracked_parcel(p) for p in parcels],
    }


def _tracked_parcel(parcel: Parcel) -> dict[str, Any]:
    return {
        "CourierParcelId": parcel.parcel_id,
        "CourierCompanyName": parcel.courier_company,
        "TrackingReference": parcel.tracking_reference,
        "TrackingUrl": None,
        "Status": 0,  # Unknown: no courier events are simulated
        "DateAdded": tm_date(parcel.added),
    }


def summary(backend: TradeMeBackend) -> dict[str, Any]:
    config = backend.config
    return {
        **backend.counts(),
        "WatchListCount": 0,
        "WonCount": 0,
        "LostCount": 0,
        "PositiveFeedback": 0,
        "NegativeFeedback": 0,
        "TotalFeedback": 0,
        "MemberId": config.member_id,
        "Nickname": config.nickname,
        "Email": config.email,
        "DateJoined": tm_date(MEMBER_SINCE),
        "IsAddressVerified": True,
        "Balance": money(config.balance),
        "PayNowBalance": money(backend.pay_now_balance()),
        "IsBusiness": True,
        "BusinessName": config.nickname,
        "IsInTrade": True,
        "IsPayNowAccepted": True,
        "IsAuthenticated": True,
    }
