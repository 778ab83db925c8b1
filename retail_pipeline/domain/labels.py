"""Is a label PDF the one we paid for? A check before the label is trusted (pypdf, no other I/O).

A label that does not open, has other than one page, or does not show the parcel's tracking PIN and
destination postal code would ship the wrong parcel or none: such a label fails the order's label
step (`label_failed`) and lands in the ops inbox instead of on a box.
"""

from __future__ import annotations

import io
import logging
import re

from pypdf import PdfReader
from pypdf.errors import PdfReadError

_SPACE = re.compile(r"\s+")
# pypdf logs (and warns about) broken files it can still read; our problems list says it instead.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def compact(value: str) -> str:
    """Upper case without any whitespace: how PINs and postal codes are compared ("K1A 0B1" = "k1a0b1")."""
    return _SPACE.sub("", value).upper()


def check_label(pdf_bytes: bytes, tracking_pin: str, postal_code: str | None) -> list[str]:
    """Problems with a label ([] = good): it opens as a PDF, has exactly one page, and its text holds
    the tracking PIN and the destination postal code (both compared without spaces)."""
    if not pdf_bytes.startswith(b"%PDF-"):
        return ["not a PDF (no %PDF- header)"]
    try:
        reader = PdfReader(io.BytesIO(pdf_bytes), strict=False)
        pages = len(reader.pages)
        text = "\n".join((page.extract_text() or "") for page in reader.pages[:2])
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as error:
        return [f"does not open as a PDF: {type(error).__name__}: {error}"]
    problems = []
    if pages != 1:
        problems.append(f"has {pages} pages, expected exactly 1")
    flat = compact(text)
    if not tracking_pin or compact(tracking_pin) not in flat:
        problems.append(f"tracking PIN {tracking_pin} not found on the label")
    if postal_code and compact(postal_code) not in flat:
        problems.append(f"destination postal code {postal_code} not found on the label")
    return problems
