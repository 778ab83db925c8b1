"""Webhook product imports (seed 003): ``POST /api/import/webhook`` and ``GET /api/import/job/{id}``.

The webhook only authenticates, stores and answers. The event row and its import job are committed in
one transaction before the 202; ``webhook_import_sensor`` then turns each stored event into exactly one
``webhook_import_job`` run, which validates and upserts the products. Bodies that are refused (bad
credentials, bad JSON) are stored too, with status ``rejected`` and the reason, and never processed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DataError, OperationalError, SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from retail_pipeline.api.auth import Operator, Principal, require_role
from retail_pipeline.api.database import db_engine
from retail_pipeline.domain.imports import SOURCE, EnvelopeError, batch_items, job_outcome, validate_batch
from retail_pipeline.settings import Settings

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/import", tags=["import"])

TOPIC = "import"
SECRET_HEADER = "X-Webhook-Secret"
SIGNATURE_HEADER = "X-Webhook-Signature"
DELIVERY_ID_HEADERS = ("X-Idempotency-Key", "X-Webhook-Id")
# Never written to webhook_events.headers: they are credentials, not diagnostics.
UNSTORED_HEADERS = {SECRET_HEADER.lower(), "authorization", "cookie", "x-api-key"}
# Bodies sent without valid credentials are kept only this far: enough to diagnose a misconfigured
# sender, without offering strangers free storage.
UNAUTHENTICATED_BODY_KEPT = 64 * 1024


def webhook_settings(request: Request) -> Settings:
    """Dependency: the app's Settings (IMPORT_WEBHOOK_SECRET, IMPORT_WEBHOOK_MAX_BYTES)."""
    return request.app.state.settings


class WebhookAccepted(BaseModel):
    import_job_id: int
    webhook_event_id: int
    status: str = Field(description="The import job's status: pending until the sensor's run picks it up.")
    total_items: int
    duplicate: bool = Field(
        description="True when this delivery was already stored; nothing new was created."
    )


class ImportJobView(BaseModel):
    id: int
    webhook_event_id: int | None
    source: str | None
    supplier: str | None
    status: str = Field(description="pending | running | completed | failed")
    outcome: str | None = Field(description="succeeded | partial | failed once finished, else null")
    total_items: int
    processed_items: int
    failed_items: int
    imported_items: int
    errors: list[dict[str, Any]] = Field(
        description="Invalid items: {index, sku, errors: [{field, message}]}"
    )
    error: str | None
    run_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def _fail(code: int, detail: str) -> HTTPException:
    return HTTPException(code, detail=detail)


async def _read_body(request: Request, limit: int, too_large_detail: str | None = None) -> bytes:
    """The body, refusing with 413 as soon as it is known to exceed ``limit`` (without reading the rest)."""
    too_large = _fail(
        status.HTTP_413_CONTENT_TOO_LARGE,
        too_large_detail
        or f"body larger than {limit} bytes (IMPORT_WEBHOOK_MAX_BYTES): send the products in smaller batches",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():  # Content-Length may be absent (chunked) or lie
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _credential_error(request: Request, body: bytes, secret: bytes) -> str | None:
    """Why the request is not from our n8n workflow, or None. Every credential presented must be valid."""
    signature = request.headers.get(SIGNATURE_HEADER)
    shared = request.headers.get(SECRET_HEADER)
    if signature is None and shared is None:
        return (
            f"missing credentials: send {SECRET_HEADER} or {SIGNATURE_HEADER}: sha256=<hex HMAC of the body>"
        )
    if signature is not None:
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
            return (
                f"{SIGNATURE_HEADER} does not match: it must be sha256=<hex HMAC-SHA256 of the raw body, "
                "keyed with the shared secret>"
            )
    if shared is not None and not hmac.compare_digest(shared.encode(), secret):
        return f"{SECRET_HEADER} is wrong"
    return None


def _parse(body: bytes) -> tuple[str, Any]:
    """(the JSON text, the parsed value); ValueError with the parser's reason."""
    try:
        body_text = body.decode("utf-8-sig")  # n8n never sends a BOM, but other tools do
    except UnicodeDecodeError as exc:
        raise ValueError(f"body is not UTF-8: {exc}") from None

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")  # Python's json accepts it; PostgreSQL does not

    return body_text, json.loads(body_text, parse_constant=no_constants)


def _stored_headers(request: Request) -> str:
    return json.dumps({k: v for k, v in request.headers.items() if k not in UNSTORED_HEADERS})


def _dedupe_key(request: Request, body: bytes) -> str:
    """The sender's delivery id if it gives one, else the body's hash; namespaced so the two never meet."""
    for header in DELIVERY_ID_HEADERS:
        if value := request.headers.get(header, "").strip():
            return f"id:{value}"
    return f"sha256:{hashlib.sha256(body).hexdigest()}"


def _store_rejected(
    engine: Engine,
    body: bytes,
    headers: str,
    *,
    authenticated: bool,
    error: str,
    source: str = SOURCE,
    topic: str | None = TOPIC,
) -> None:
    """Keep a refused delivery for ops; best effort, since the 4xx is the answer that matters."""
    kind = "payload" if authenticated else "credentials"
    # Its own key namespace: a refused body must never shadow a later valid delivery of the same body.
    key = f"rejected:{kind}:sha256:{hashlib.sha256(body).hexdigest()}"
    kept = body if authenticated else body[:UNAUTHENTICATED_BODY_KEPT]
    if len(kept) < len(body):
        error = f"{error} (body truncated to {len(kept)} of {len(body)} bytes)"
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO retail.webhook_events (source, topic, dedupe_key, raw_body, headers,"
                    " signature_valid, status, error, processed_at)"
                    " VALUES (:source, :topic, :key, :body, CAST(:headers AS jsonb), :valid, 'rejected', :error, now())"
                    " ON CONFLICT (source, dedupe_key) DO NOTHING"
                ),
                {
                    "source": source,
                    "topic": topic,
                    "key": key,
                    "body": kept,
                    "headers": headers,
                    "valid": authenticated,
                    "error": error,
                },
            )
    except SQLAlchemyError:
        logger.warning("import webhook: could not store a rejected delivery", exc_info=True)


class _KeyConflict(Exception):
    """The delivery id was already used for a different body."""


def _existing(conn: Connection, key: str, payload_text: str) -> WebhookAccepted:
    row = conn.execute(
        text(
            "SELECT e.id AS event_id, j.id AS job_id, j.status, j.total_items,"
            " e.payload = CAST(:payload AS jsonb) AS same_payload"
            " FROM retail.webhook_events e JOIN retail.import_jobs j ON j.webhook_event_id = e.id"
            " WHERE e.source = :source AND e.dedupe_key = :key"
        ),
        {"source": SOURCE, "key": key, "payload": payload_text},
    ).one()
    if not row.same_payload:
        raise _KeyConflict(
            f"delivery id {key.removeprefix('id:')!r} was already used by event {row.event_id}"
        )
    return WebhookAccepted(
        import_job_id=row.job_id,
        webhook_event_id=row.event_id,
        status=row.status,
        total_items=row.total_items,
        duplicate=True,
    )


def _store_event(engine: Engine, key: str, payload_text: str, headers: str, total: int) -> WebhookAccepted:
    """Store the event and its import job together; a repeated delivery gets the first one's ids."""
    with engine.begin() as conn:
        event_id = conn.execute(
            text(
                "INSERT INTO retail.webhook_events (source, topic, dedupe_key, payload, headers, signature_valid)"
                " VALUES (:source, :topic, :key, CAST(:payload AS jsonb), CAST(:headers AS jsonb), true)"
                " ON CONFLICT (source, dedupe_key) DO NOTHING RETURNING id"
            ),
            {"source": SOURCE, "topic": TOPIC, "key": key, "payload": payload_text, "headers": headers},
        ).scalar()
        if event_id is None:  # a concurrent twin has committed by now: ON CONFLICT waited for it
            return _existing(conn, key, payload_text)
        job = conn.execute(
            text(
                "INSERT INTO retail.import_jobs (webhook_event_id, total_items) VALUES (:event, :total)"
                " RETURNING id, status"
            ),
            {"event": event_id, "total": total},
        ).one()
    return WebhookAccepted(
        import_job_id=job.id, webhook_event_id=event_id, status=job.status, total_items=total, duplicate=False
    )


def _first_line(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


@router.post(
    "/webhook",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookAccepted,
    responses={
        400: {"description": "Body is not valid JSON (the reason is in detail); stored as rejected"},
        401: {"description": "Missing or wrong secret/signature; stored as rejected, never processed"},
        409: {"description": "Delivery id reused for a different body"},
        413: {"description": "Body over IMPORT_WEBHOOK_MAX_BYTES"},
        422: {"description": "JSON, but not a product batch; stored as rejected"},
        503: {"description": "Webhook secret not configured, or database unavailable (retry)"},
    },
)
async def import_webhook(
    request: Request,
    engine: Annotated[Engine, Depends(db_engine)],
    config: Annotated[Settings, Depends(webhook_settings)],
) -> JSONResponse:
    """Store a batch of products pushed by n8n and queue its import; answers before any product is read.

    Authenticate with ``X-Webhook-Secret: <secret>`` or ``X-Webhook-Signature: sha256=<hex HMAC-SHA256 of
    the body>``. Body: ``{"source": "allegro", "products": [...]}`` or a bare array of products. A delivery
    is recognised by ``X-Idempotency-Key`` / ``X-Webhook-Id``, else by its body: sending it again returns
    the same import job with ``duplicate: true``.
    """
    secret = config.import_webhook_secret.get_secret_value() if config.import_webhook_secret else ""
    if not secret:  # refusing beats accepting unauthenticated product data
        raise _fail(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "webhook imports are not configured: set IMPORT_WEBHOOK_SECRET",
        )
    body = await _read_body(request, config.import_webhook_max_bytes)
    headers = _stored_headers(request)

    if reason := _credential_error(request, body, secret.encode()):
        await run_in_threadpool(_store_rejected, engine, body, headers, authenticated=False, error=reason)
        raise _fail(status.HTTP_401_UNAUTHORIZED, reason)

    try:
        payload_text, payload = _parse(body)
        total = len(batch_items(payload))
    except EnvelopeError as exc:
        await run_in_threadpool(_store_rejected, engine, body, headers, authenticated=True, error=str(exc))
        raise _fail(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    except ValueError as exc:  # JSONDecodeError is one
        reason = f"malformed JSON: {exc}"
        await run_in_threadpool(_store_rejected, engine, body, headers, authenticated=True, error=reason)
        raise _fail(status.HTTP_400_BAD_REQUEST, reason) from None

    key = _dedupe_key(request, body)
    try:
        accepted = await run_in_threadpool(_store_event, engine, key, payload_text, headers, total)
    except _KeyConflict as exc:
        reason = f"{exc} with a different body: use a new id for a new batch"
        await run_in_threadpool(_store_rejected, engine, body, headers, authenticated=True, error=reason)
        raise _fail(status.HTTP_409_CONFLICT, reason) from None
    except DataError as exc:  # JSON that jsonb refuses, e.g. "\u0000" in a string
        reason = f"JSON that PostgreSQL cannot store: {_first_line(exc)}"
        await run_in_threadpool(_store_rejected, engine, body, headers, authenticated=True, error=reason)
        raise _fail(status.HTTP_400_BAD_REQUEST, reason) from None
    except OperationalError:
        logger.warning("import webhook: database unavailable", exc_info=True)
        raise _fail(
            status.HTTP_503_SERVICE_UNAVAILABLE, "database unavailable: the delivery was not stored, retry it"
        ) from None
    return JSONResponse(
        accepted.model_dump(),
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": f"/api/import/job/{accepted.import_job_id}"},
    )


def _load_job(engine: Engine, job_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT j.id, j.webhook_event_id, e.source, s.code AS supplier, j.status, j.total_items,"
                " j.processed_items, j.failed_items, j.errors, j.error, j.run_id, j.created_at,"
                " j.started_at, j.finished_at"
                " FROM retail.import_jobs j"
                " LEFT JOIN retail.webhook_events e ON e.id = j.webhook_event_id"
                " LEFT JOIN retail.suppliers s ON s.id = j.supplier_id"
                " WHERE j.id = :id"
            ),
            {"id": job_id},
        ).one_or_none()
    return None if row is None else dict(row._mapping)


@router.get(
    "/job/{job_id}",
    response_model=ImportJobView,
    dependencies=[Depends(require_role("viewer"))],
    responses={404: {"description": "No import job with this id"}},
)
def get_import_job(
    job_id: Annotated[int, Path(ge=1, le=2**63 - 1)], engine: Annotated[Engine, Depends(db_engine)]
) -> ImportJobView:
    """An import job's status, counts and per-item errors (viewer role)."""
    job = _load_job(engine, job_id)
    if job is None:
        raise _fail(status.HTTP_404_NOT_FOUND, f"no import job {job_id}")
    return ImportJobView(
        **job,
        outcome=job_outcome(job["status"], job["failed_items"]),
        imported_items=job["processed_items"] - job["failed_items"],
    )


# --- the same import path with an operator's key instead of the webhook secret -------------------


class OperatorImportAccepted(WebhookAccepted):
    invalid_items: list[dict[str, Any]] = Field(
        description="items that will be rejected by the import, with their field errors: "
        "{index, sku, errors: [{field, message}]}; the valid items are imported"
    )


def _operator_key(request: Request, body: bytes, principal: Principal) -> str:
    """Namespaced apart from n8n's deliveries: an operator's Idempotency-Key, else the body's hash."""
    if value := request.headers.get("Idempotency-Key", "").strip():
        return f"operator:{principal.key_prefix}:id:{value}"
    return f"operator:sha256:{hashlib.sha256(body).hexdigest()}"


async def _operator_import(
    request: Request, engine: Engine, config: Settings, principal: Principal, *, single: bool
) -> JSONResponse:
    body = await _read_body(request, config.import_webhook_max_bytes)
    headers = json.dumps({"via": "operator_api", "api_key": principal.key_prefix, "path": request.url.path})
    try:
        _, parsed = _parse(body)
    except ValueError as exc:
        raise _fail(status.HTTP_400_BAD_REQUEST, f"malformed JSON: {exc}") from None
    if single:
        if not isinstance(parsed, dict):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                {
                    "field": "body",
                    "message": f"expected one product as a JSON object, got a JSON {type(parsed).__name__}",
                },
            )
        payload = {"source": SOURCE, "products": [parsed]}
    else:
        payload = parsed
    try:
        items = batch_items(payload)
    except EnvelopeError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, {"field": "body", "message": str(exc)}
        ) from None
    if not items:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, {"field": "products", "message": "no products"}
        )
    _, invalid = validate_batch(items)
    if single and invalid:
        # One product and it is invalid: nothing to import, say which field (nothing valid is lost).
        first = invalid[0]["errors"][0]
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {"field": first["field"], "message": first["message"], "errors": invalid[0]["errors"]},
        )
    payload_text = json.dumps(payload if isinstance(payload, dict) else {"source": SOURCE, "products": items})
    try:
        accepted = await run_in_threadpool(
            _store_event, engine, _operator_key(request, body, principal), payload_text, headers, len(items)
        )
    except _KeyConflict as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, {"field": "Idempotency-Key", "message": f"{exc} with a different body"}
        ) from None
    except DataError as exc:
        raise _fail(
            status.HTTP_400_BAD_REQUEST, f"JSON that PostgreSQL cannot store: {_first_line(exc)}"
        ) from None
    result = OperatorImportAccepted(**accepted.model_dump(), invalid_items=invalid)
    return JSONResponse(
        result.model_dump(mode="json"),
        status_code=status.HTTP_202_ACCEPTED,
        headers={"Location": f"/api/import/job/{accepted.import_job_id}"},
    )


OPERATOR_IMPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Body is not valid JSON"},
    409: {"description": "Idempotency-Key reused for a different body"},
    413: {"description": "Body over IMPORT_WEBHOOK_MAX_BYTES"},
    422: {"description": "Not a product (batch); for one product, its first invalid field is named"},
}


@router.post(
    "/product", status_code=status.HTTP_202_ACCEPTED, response_model=OperatorImportAccepted,
    responses=OPERATOR_IMPORT_RESPONSES,
)  # fmt: skip
async def import_product(
    request: Request,
    principal: Operator,
    engine: Annotated[Engine, Depends(db_engine)],
    config: Annotated[Settings, Depends(webhook_settings)],
) -> JSONResponse:
    """Import one product (the webhook's product shape) with an operator key: stored and queued exactly
    like a webhook delivery (``webhook_import_sensor`` runs it). ``Idempotency-Key`` makes a retry safe."""
    return await _operator_import(request, engine, config, principal, single=True)


@router.post(
    "/batch", status_code=status.HTTP_202_ACCEPTED, response_model=OperatorImportAccepted,
    responses=OPERATOR_IMPORT_RESPONSES,
)  # fmt: skip
async def import_batch(
    request: Request,
    principal: Operator,
    engine: Annotated[Engine, Depends(db_engine)],
    config: Annotated[Settings, Depends(webhook_settings)],
) -> JSONResponse:
    """Import a batch (``{"source": "allegro", "products": [...]}`` or an array) with an operator key.
    Invalid items are listed in the answer and rejected by the import; the valid ones are imported."""
    return await _operator_import(request, engine, config, principal, single=False)
