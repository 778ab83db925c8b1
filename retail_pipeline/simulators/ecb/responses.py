"""The eurofxref documents byte-for-byte in the ECB's layout: a `gesmes:Envelope` (GESMES/TS namespace)
with the subject and sender, and the eurofxref `Cube` → `Cube time='…'` → `Cube currency='…' rate='…'`
(single-quoted attributes, tab-indented, as https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

GESMES_NS = "http://www.gesmes.org/xml/2002-08-01"
EUROFXREF_NS = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"


def envelope(days: list[tuple[date, dict[str, Decimal]]]) -> bytes:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<gesmes:Envelope xmlns:gesmes="{GESMES_NS}" xmlns="{EUROFXREF_NS}">',
        "\t<gesmes:subject>Reference rates</gesmes:subject>",
        "\t<gesmes:Sender>",
        "\t\t<gesmes:name>European Central Bank</gesmes:name>",
        "\t</gesmes:Sender>",
        "\t<Cube>",
    ]
    for day, rates in days:
        lines.append(f"\t\t<Cube time='{day.isoformat()}'>")
        lines += [f"\t\t\t<Cube currency='{c}' rate='{r}'/>" for c, r in rates.items()]
        lines.append("\t\t</Cube>")
    lines += ["\t</Cube>", "</gesmes:Envelope>"]
    return ("\n".join(lines) + "\n").encode()
