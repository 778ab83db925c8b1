"""Pick & pack rows: products with GTINs and bins, labelled orders waiting to be packed (plain SQL, as
shipping_labels leaves them), and an order packed as a warehouse worker packs it (start, one scan per
unit, complete) through the same operations the pick & pack routes call."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, text

from retail_pipeline.db import packing
from retail_pipeline_tests.seeds.catalog import add_product, add_supplier
from retail_pipeline_tests.seeds.ops import add_order, add_shipment

BENCH = packing.Packer(key_id=None, name="test:packer")


def gtin13(body: str) -> str:
    """12 digits and their GS1 check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str(-total % 10)


# supplier sku, title, GTIN, bin
SHELF = [
    ("HP-XM5", "Sony WH-1000XM5 Wireless Noise Cancelling Headphones", gtin13("454854839887"), "A-02-1"),
    ("PED-DS1", "Boss DS-1 Distortion Guitar Pedal", gtin13("476147701020"), "A-10-3"),
    ("CBL-XLR", "Mogami Gold XLR Microphone Cable 6 m", gtin13("081966060071"), "B-01-2"),
    ("STR-1046", "Ernie Ball Regular Slinky Strings 10-46", gtin13("074986002217"), "A-03-4"),
    ("MIC-SM58", "Shure SM58 Dynamic Vocal Microphone", gtin13("042406058219"), "B-04-1"),
    ("KB-MX", "Logitech MX Keys S Wireless Keyboard", gtin13("509920684135"), "C-01-1"),
    ("TUN-TU3", "Boss TU-3 Chromatic Tuner Pedal", gtin13("476147701345"), None),
]


@dataclass
class PackFloor:
    products: dict[str, int]  # our sku -> product id
    gtins: dict[str, str]  # our sku -> GTIN
    orders: list[int] = field(default_factory=list)
    pins: dict[int, str] = field(default_factory=dict)


def sku(supplier_sku: str) -> str:
    return f"RP-{supplier_sku}"  # what add_product makes of it


def seed_shelf(conn: Connection) -> PackFloor:
    supplier_id = add_supplier(conn, "warehouse_test")
    floor = PackFloor(products={}, gtins={})
    for supplier_sku, title, gtin, bin_location in SHELF:
        product_id = add_product(conn, supplier_id, supplier_sku, title=title, gtin=gtin, images=0)
        conn.execute(
            text("UPDATE retail.products SET bin_location = :b WHERE id = :id"),
            {"b": bin_location, "id": product_id},
        )
        floor.products[sku(supplier_sku)] = product_id
        floor.gtins[sku(supplier_sku)] = gtin
    return floor


def add_labelled_order(
    conn: Connection,
    floor: PackFloor,
    external_id: str,
    lines: list[tuple[str, int, str]],
    *,
    channel: str = "bestbuy",
    address: dict | None = None,
) -> int:
    """An order with a Canada Post label (shipment label_created with a PIN), ready to pack."""
    order_id = add_order(
        conn, external_id, ["accepted", "label_created"], channel=channel, lines=lines,
        shipping_address=address or {"name": "Jane Doe", "street_1": "123 Main St", "city": "Toronto",
                                     "state": "ON", "zip_code": "M5V 2T6", "country_iso_code": "CA"},
    )  # fmt: skip
    pin = f"7023{order_id:012d}"
    add_shipment(conn, order_id, "label_created", tracking_pin=pin, label_path=f"labels/{pin}.pdf")
    floor.orders.append(order_id)
    floor.pins[order_id] = pin
    return order_id


def pack_order(engine: Engine, order_id: int, packer: packing.Packer = BENCH) -> dict:
    with engine.begin() as conn:
        state = packing.start(conn, order_id, packer)
        for line in state["lines"]:
            for _ in range(line["remaining"]):
                packing.scan(conn, line["sku"], uuid.uuid4().hex, packer, order_id=order_id)
        return packing.complete(conn, order_id, packer)
