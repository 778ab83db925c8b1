"""Webhook bodies as n8n sends them, how to sign them, and the sidecar settings that accept them."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from pydantic import SecretStr

from retail_pipeline.settings import Settings

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


def accepting_imports(settings: Settings) -> Settings:
    """The settings with the import webhook's shared secret and a small body limit."""
    return settings.model_copy(
        update={"import_webhook_secret": SecretStr(SECRET), "import_webhook_max_bytes": MAX_BYTES}
    )


def valid_batch() -> dict[str, Any]:
    return {"source": "allegro", "products": [product("1001"), product("1002"), product("1003")]}
