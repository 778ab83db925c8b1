"""Webhook bodies as n8n sends them, and how to sign them."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

SECRET = "n8n-shared-secret"
MAX_BYTES = 64 * 1024


def product(source_id: str, **overrides: Any) -> dict[str, Any]:
    item = {
        "source_id": source_id,
        "title": f"Słuchawki bezprzewodowe {source_id}",
        "description": "Nowe, w oryginalnym opakowaniu.",
        "price": 199.99,
        "currency": "PLN",
        "images": [f"https://a.allegroimg.com/original/{source_id}/1.jpg"],
        "category": "Elektronika > Audio",
        "brand": "Sony",
        "attributes": {"Kolor": "czarny", "Stan": "Nowy"},
        "url": f"https://allegro.pl/oferta/{source_id}",
    }
    return {**item, **overrides}


def signature(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def dumps(payload: Any) -> bytes:
    return json.dumps(payload).encode()
