"""Channel webhooks in: ``POST /webhooks/<channel>`` for every channel that pushes its orders
(the channel plug-in's `order_webhook`: signature, topic and id headers, how a body becomes an order).

Like the import webhook (api/imports.py, whose body reading and rejected-delivery storage this reuses),
a delivery is verified against the raw body and stored in ``retail.webhook_events`` before the 200,
keyed by the channel's webhook id header so a redelivery is recognised, and ``order_webhook_sensor``
turns each stored event into exactly one run that upserts the order. A bad signature is 401 and stored
as rejected, a body that is not JSON is 400 (stored as rejected), an oversized one 413, a channel
without order webhooks 404. Channels retry anything but a 2xx, so the answer comes within seconds.
"""

from __future__ import annotations

import logging
from typing import Annotated, NoReturn

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy.exc import DataError, OperationalError
from starlette.concurrency import run_in_threadpool

from retail_pipeline.api.channels import channel_that_can
from retail_pipeline.api.database import db_engine
from retail_pipeline.api.imports import _first_line, _parse, _read_body, _store_rejected, _stored_headers
from retail_pipeline.channels.plugin import Channel
from retail_pipeline.integrations.marketplaces.base import ChannelError

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


class WebhookStored(BaseModel):
    webhook_event_id: int
    topic: str
    duplicate: bool


pushing_channel = channel_that_can("order_webhooks", "no order webhooks for channel")


STORE = text(
    "INSERT INTO retail.webhook_events (source, topic, dedupe_key, payload, headers, signature_valid)"
    " VALUES (:source, :topic, :key, CAST(:payload AS jsonb), CAST(:headers AS jsonb), true)"
    " ON CONFLICT (source, dedupe_key) DO NOTHING RETURNING id"
)
EXISTING = text("SELECT id FROM retail.webhook_events WHERE source = :source AND dedupe_key = :key")


def _store(
    engine: Engine, source: str, key: str, topic: str, payload_text: str, headers: str
) -> WebhookStored:
    with engine.begin() as conn:
        params = {"source": source, "topic": topic, "key": key, "payload": payload_text, "headers": headers}
        event_id = conn.execute(STORE, params).scalar()
        if event_id is not None:
            return WebhookStored(webhook_event_id=event_id, topic=topic, duplicate=False)
        # A redelivery (same webhook id): the channel did not see our first 200. Answer it the same way.
        existing = conn.execute(EXISTING, {"source": source, "key": key}).scalar_one()
        return WebhookStored(webhook_event_id=existing, topic=topic, duplicate=True)


@router.post(
    "/{channel}",
    response_model=WebhookStored,
    responses={
        400: {"description": "Not JSON, not an order topic, or no webhook id; stored as rejected"},
        401: {"description": "Signature header missing or wrong; stored as rejected, never processed"},
        404: {"description": "The channel does not push orders"},
        413: {"description": "Body over the channel's limit"},
        503: {"description": "The channel's webhook secret not configured, or database unavailable (retry)"},
    },
)
async def order_webhook(
    request: Request,
    engine: Annotated[Engine, Depends(db_engine)],
    plugin: Annotated[Channel, Depends(pushing_channel)],
) -> WebhookStored:
    """Store one order webhook (verified against the raw body) for the order sync to process."""
    hook = plugin.order_webhook
    try:
        secret = hook.secret()
    except ChannelError as error:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, error.message) from None
    source = plugin.name
    body = await _read_body(
        request,
        hook.max_bytes,
        f"body larger than {hook.max_bytes} bytes: not a {plugin.title} order webhook",
    )
    headers = _stored_headers(request)
    topic = request.headers.get(hook.topic_header, "").strip()

    async def refuse(code: int, reason: str, *, authenticated: bool = True) -> NoReturn:
        """Keep the refused delivery for ops (best effort), then answer with the reason."""
        await run_in_threadpool(
            _store_rejected, engine, body, headers, authenticated=authenticated, error=reason,
            source=source, topic=topic or None,
        )  # fmt: skip
        raise HTTPException(code, reason)

    if not hook.verify(body, request.headers.get(hook.signature_header), secret):
        await refuse(
            status.HTTP_401_UNAUTHORIZED,
            f"{hook.signature_header} does not match: it must be {hook.signature_scheme}",
            authenticated=False,
        )
    if not topic.startswith(hook.topic_prefix):
        await refuse(
            status.HTTP_400_BAD_REQUEST,
            f"topic {topic!r} is not handled here: subscribe {hook.topic_prefix}* topics",
        )
    webhook_id = request.headers.get(hook.id_header, "").strip()
    if not webhook_id:
        await refuse(
            status.HTTP_400_BAD_REQUEST,
            f"{hook.id_header} missing: {plugin.title} sends one with every delivery",
        )
    try:
        payload_text, payload = _parse(body)
    except ValueError as error:
        await refuse(status.HTTP_400_BAD_REQUEST, f"malformed JSON: {error}")
    if not isinstance(payload, dict) or hook.id_field not in payload:
        await refuse(
            status.HTTP_400_BAD_REQUEST, f"body is not a {plugin.title} order object (no {hook.id_field})"
        )

    try:
        return await run_in_threadpool(
            _store, engine, source, f"id:{webhook_id}", topic, payload_text, headers
        )
    except DataError as error:  # JSON that jsonb refuses, e.g. "\u0000" in a string
        await refuse(status.HTTP_400_BAD_REQUEST, f"JSON that PostgreSQL cannot store: {_first_line(error)}")
    except OperationalError:
        logger.warning("%s webhook: database unavailable", source, exc_info=True)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "database unavailable: the delivery was not stored, retry it"
        ) from None
