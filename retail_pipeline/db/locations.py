"""Ship-from locations (``retail.locations``): the operators' list and where products and suppliers'
stock are placed (an order's lines sit at their product's own location, else its supplier's default:
the label asset's line query reads that)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from retail_pipeline.domain.orders import Address

COLUMNS = "id, code, name, company, phone, street_1, street_2, city, region, postal_code, country, active"


class LocationError(Exception):
    """A refused shipping request (a location, a placement, a tracking entry), with the HTTP status that
    says why (404 unknown, 409 conflict, 422 invalid)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Location:
    id: int
    code: str
    name: str
    country: str
    active: bool
    address: Address


def _location(row: Any) -> Location:
    address = Address(
        name=row.name, company=row.company, phone=row.phone, street_1=row.street_1, street_2=row.street_2,
        city=row.city, state=row.region, zip_code=row.postal_code, country_iso_code=row.country.strip(),
    )  # fmt: skip
    return Location(row.id, row.code, row.name, row.country.strip(), row.active, address)


def all_locations(conn: Connection) -> dict[str, Location]:
    """Every location by code, inactive ones included (an order may still sit in one)."""
    rows = conn.execute(text(f"SELECT {COLUMNS} FROM retail.locations ORDER BY code"))
    return {row.code: _location(row) for row in rows}


def list_locations(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            f"""SELECT {COLUMNS},
                       (SELECT count(*) FROM retail.products p WHERE p.location_id = l.id) AS products_placed,
                       (SELECT count(*) FROM retail.suppliers s WHERE s.location_id = l.id) AS suppliers
                  FROM retail.locations l ORDER BY code"""
        )
    )
    return [{**row._mapping, "country": row.country.strip()} for row in rows]


def create_location(conn: Connection, values: dict[str, Any]) -> dict[str, Any]:
    """Adds a location; 409 when its code is taken."""
    try:
        with conn.begin_nested():
            row = conn.execute(
                text(
                    f"""INSERT INTO retail.locations (code, name, company, phone, street_1, street_2, city,
                                                      region, postal_code, country, active)
                        VALUES (:code, :name, :company, :phone, :street_1, :street_2, :city, :region,
                                :postal_code, :country, :active)
                        RETURNING {COLUMNS}"""
                ),
                values,
            ).one()
    except IntegrityError as error:
        if "locations_code_key" in str(error.orig):
            raise LocationError(409, f"a location with code {values['code']!r} already exists") from None
        raise
    return {**row._mapping, "country": row.country.strip()}


def update_location(conn: Connection, code: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Changes a location's name, address or `active` (its code stays: orders and products refer to
    it). The address is what the next label from there is sent with; 404 for an unknown code."""
    if not changes:
        raise LocationError(422, "nothing to change: send at least one field")
    unknown = set(changes) - set(COLUMNS.split(", ")) | ({"id", "code"} & set(changes))
    if unknown:
        raise LocationError(422, f"cannot change {', '.join(sorted(unknown))}")
    assignments = ", ".join(f"{column} = :{column}" for column in changes)
    row = conn.execute(
        text(f"UPDATE retail.locations SET {assignments} WHERE code = :code RETURNING {COLUMNS}"),
        {**changes, "code": code},
    ).one_or_none()
    if row is None:
        raise LocationError(404, f"no location {code!r}")
    return {**row._mapping, "country": row.country.strip()}


def _active_location_id(conn: Connection, code: str | None) -> int | None:
    if code is None:
        return None
    location = conn.execute(
        text("SELECT id, active FROM retail.locations WHERE code = :code"), {"code": code}
    ).one_or_none()
    if location is None:
        raise LocationError(404, f"no location {code!r}")
    if not location.active:
        raise LocationError(409, f"location {code!r} is inactive: nothing new is placed there")
    return location.id


def _place(conn: Connection, table: str, key_column: str, key: Any, code: str | None, missing: str):
    """Sets `table`'s location for the row whose `key_column` is `key`: (previous code, changed)."""
    current = conn.execute(
        text(
            f"""SELECT t.id, l.code FROM retail.{table} t LEFT JOIN retail.locations l ON l.id = t.location_id
                 WHERE t.{key_column} = :key FOR UPDATE OF t"""
        ),
        {"key": key},
    ).one_or_none()
    if current is None:
        raise LocationError(404, missing)
    location_id = _active_location_id(conn, code)
    changed = current.code != code
    if changed:
        conn.execute(
            text(f"UPDATE retail.{table} SET location_id = :loc WHERE id = :id"),
            {"loc": location_id, "id": current.id},
        )
    return current.code, changed


def set_product_location(conn: Connection, product_id: int, code: str | None) -> dict[str, Any]:
    """Places a product at the location `code` (None: back to its supplier's default). 404 for an
    unknown product or location, 409 for an inactive location; `changed` False when it was already so."""
    previous, changed = _place(conn, "products", "id", product_id, code, f"no product {product_id}")
    return {"product_id": product_id, "location": code, "previous": previous, "changed": changed}


def set_supplier_location(conn: Connection, supplier: str, code: str | None) -> dict[str, Any]:
    """Where a supplier's stock arrives by default (its products without a location of their own ship
    from there); None: unknown. 404 for an unknown supplier or location, 409 for an inactive location."""
    previous, changed = _place(conn, "suppliers", "code", supplier, code, f"no supplier {supplier!r}")
    return {"supplier": supplier, "location": code, "previous": previous, "changed": changed}
