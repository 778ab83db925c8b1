"""Channel webhooks in: ``POST /webhooks/shopify`` (orders/create and the other orders/* topics).

Like the import webhook (api/imports.py, whose body reading and rejected-delivery storage this reuses),
the route only verifies, stores and answers: the delivery is committed to ``retail.webhook_events``
before the 200, keyed by ``X-Shopify-Webhook-Id`` so a redelivery is recognised, and
``shopify_order_webhook_sensor`` turns each stored event into exactly one run that upserts the order.

Shopify signs the raw body (``X-Shopify-Hmac-Sha256``: base64 HMAC-SHA256 under the app's client secret,
SHOPIFY_WEBHOOK_SECRET); a bad signature is 401 and stored as rejected, a body that is not JSON is 400
(stored as rejected), an oversized one 413. Shopify wants a 2xx within 5 s and retries anything else.
"""

from __future__ import annotations

import logging
from typing import Annotated, NoReturn

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.exc import DataError, OperationalError
from starlette.concurrency import run_in_threadpool

from retail_pipeline.api.database import db_engine
from retail_pipeline.api.imports import _first_line, _parse, _read_body, _store_rejected, _stored_headers
from retail_pipeline.integrations.marketplaces.base import ChannelError
from retail_pipeline.integrations.marketplaces.shopify import ShopifySettings, verify_webhook

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

SOURCE = "shopify"
HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
ID_HEADER = "X-Shopify-Webhook-Id"
# An order with hundreds of lines is well under this; anything larger is not a Shopify order.
MAX_BYTES = 1024 * 1024


class WebhookStored(BaseModel):
    webhook_event_id: int
    topic: str
    duplicate: bool


def shopify_secret() -> str:
    """Dependency: the app's client secret (SHOPIFY_WEBHOOK_SECRET; the simulator's own when simulating)."""
    try:
        return ShopifySettings().secret()
    except ChannelError as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, error.message) from None


STORE = text(
    "INSERT INTO retail.webhook_events (source, topic, dedupe_key, payload, headers, signature_valid)"
    " VALUES (:source, :topic, :key, CAST(:payload AS jsonb), CAST(:headers AS jsonb), true)"
    " ON CONFLICT (source, dedupe_key) DO NOTHING RETURNING id"
)
EXISTING = text("SELECT id FROM retail.webhook_events WHERE source = :source AND dedupe_key = :key")


def _store(engine: Engine, key: str, topic: str, payload_text: str, headers: str) -> WebhookStored:
    with engine.begin() as conn:
        params = {"source": SOURCE, "topic": topic, "key": key, "payload": payload_text, "headers": headers}
        event_id = conn.execute(STORE, params).scalar()
        if event_id is not None:
            return WebhookStored(webhook_event_id=event_id, topic=topic, duplicate=False)
        # A redelivery (same webhook id): Shopify did not see our first 200. Answer it the same way.
        existing = conn.execute(EXISTING, {"source": SOURCE, "key": key}).scalar_one()
        return WebhookStored(webhook_event_id=existing, topic=topic, duplicate=True)


@router.post(
    "/shopify",
    response_model=WebhookStored,
    responses={
        400: {"description": "Not JSON, not an orders/* topic, or no webhook id; stored as rejected"},
        401: {"description": f"{HMAC_HEADER} missing or wrong; stored as rejected, never processed"},
        413: {"description": f"Body over {MAX_BYTES} bytes"},
        503: {"description": "SHOPIFY_WEBHOOK_SECRET not configured, or database unavailable (retry)"},
    },
)
async def shopify_webhook(
    request: Request,
    engine: Annotated[Engine, Depends(db_engine)],
    secret: Annotated[str, Depends(shopify_secret)],
) -> WebhookStored:
    """Store one Shopify orders webhook (verified against the raw body) for the order sync to process."""
    body = await _read_body(
        request, MAX_BYTES, f"body larger than {MAX_BYTES} bytes: not a Shopify order webhook"
    )
    headers = _stored_headers(request)
    topic = request.headers.get(TOPIC_HEADER, "").strip()

    async def refuse(code: int, reason: str, *, authenticated: bool = True) -> NoReturn:
        """Keep the refused delivery for ops (best effort), then answer with the reason."""
        await run_in_threadpool(
            _store_rejected, engine, body, headers, authenticated=authenticated, error=reason,
            source=SOURCE, topic=topic or None,
        )  # fmt: skip
        raise HTTPException(code, reason)

    if not verify_webhook(body, request.headers.get(HMAC_HEADER), secret):
        await refuse(
            status.HTTP_401_UNAUTHORIZED,
            f"{HMAC_HEADER} does not match: it must be the base64 HMAC-SHA256 of the raw body under the "
            "app's client secret",
            authenticated=False,
        )
    if not topic.startswith("orders/"):
        await refuse(
            status.HTTP_400_BAD_REQUEST, f"topic {topic!r} is not handled here: subscribe orders/* topics"
        )
    webhook_id = request.headers.get(ID_HEADER, "").strip()
    if not webhook_id:
        await refuse(
            status.HTTP_400_BAD_REQUEST, f"{ID_HEADER} missing: Shopify sends one with every delivery"
        )
    try:
        payload_text, payload = _parse(body)
    except ValueError as error:
        await refuse(status.HTTP_400_BAD_REQUEST, f"malformed JSON: {error}")
    if not isinstance(payload, dict) or "id" not in payload:
        await refuse(status.HTTP_400_BAD_REQUEST, "body is not a Shopify order object (no id)")

    try:
        return await run_in_threadpool(_store, engine, f"id:{webhook_id}", topic, payload_text, headers)
    except DataError as error:  # JSON that jsonb refuses, e.g. "\u0000" in a string
        await refuse(status.HTTP_400_BAD_REQUEST, f"JSON that PostgreSQL cannot store: {_first_line(error)}")
    except OperationalError:
        logger.warning("shopify webhook: database unavailable", exc_info=True)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "database unavailable: the delivery was not stored, retry it"
        ) from None
