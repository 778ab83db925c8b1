"""What stands in front of eBay's Sell APIs, in the order eBay applies it: the URL must be a documented
operation (404 otherwise, like stripe-mock), the bearer token live and holding one of the operation's
scopes (401/403), the day's call quota not spent (429), and the request as the spec defines it (400).
On the way out, every response is checked against the spec; one that is not allowed is a simulator bug
and fails loudly (500, and the exception reaches in-process tests) instead of teaching clients wrong
shapes.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .conformance import (
    Operation,
    RequestProblem,
    SpecRequest,
    SpecResponse,
    find_operation,
    request_problems,
    response_problems,
    spec_request,
)
from .exceptions import EbayError, api_detail, invalid_request, resource_not_found
from .models import EbayBackend

OPERATION_KEY = "ebay.operation"  # the matched spec operation, for the routes' "not simulated" answer
SELL_PREFIX = "/sell/"
# The Taxonomy API: no spec is kept here (see taxonomy.py), so it is admitted by token scope and quota
# only; its routes check their own parameters.
TAXONOMY_PREFIX = "/commerce/taxonomy/"
TAXONOMY_SCOPES = frozenset({"https://api.ebay.com/oauth/api_scope"})


class ConformanceError(AssertionError):
    """The simulator answered something eBay's spec does not allow."""


class Gateway:
    def __init__(self, app: ASGIApp, backend: EbayBackend):
        self.app, self.backend = app, backend

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")[len(scope.get("root_path", "")) :]
        if scope["type"] == "http" and path.startswith(TAXONOMY_PREFIX):
            try:
                headers = dict(
                    (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]
                )
                self.backend.authorize(headers.get("authorization", ""), TAXONOMY_SCOPES)
                self.backend.admit_call()
            except EbayError as error:
                response = JSONResponse(error.body(), status_code=error.status, headers=error.headers)
                await response(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http" or not path.startswith(SELL_PREFIX):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        request = spec_request(
            scope["method"], path, query=scope["query_string"].decode("latin-1"), headers=headers, body=body
        )
        operation = find_operation(scope["method"], path)
        try:
            self._admit(operation, request, scope["method"], path)
        except EbayError as error:
            response = JSONResponse(error.body(), status_code=error.status, headers=error.headers)
            await response(scope, _replay(body), _checked(send, request))
            return
        scope[OPERATION_KEY] = operation
        await self.app(scope, _replay(body), _checked(send, request))

    def _admit(self, operation: Operation | None, request: SpecRequest, method: str, path: str) -> None:
        if operation is None:
            raise resource_not_found(method, path)
        self.backend.authorize(request.parameters.header.get("Authorization", ""), operation.scopes)
        self.backend.admit_call()
        if problems := request_problems(request):
            raise _as_error(operation, problems)


def _as_error(operation: Operation, problems: list[RequestProblem]) -> EbayError:
    """Unreadable bodies and wrongly typed or unknown fields are eBay's 2004 "Could not serialize field
    [...]"; a missing or bad header or parameter is the API's own "invalid value" error."""
    details = []
    seen = set()
    for problem in problems:
        if (problem.kind, problem.name) in seen:  # one error per field, as eBay reports them
            continue
        seen.add((problem.kind, problem.name))
        if problem.kind == "body":
            reason = (
                f"Could not serialize field [{problem.name}]: {problem.detail}"
                if problem.name
                else problem.detail
            )
            details.extend(invalid_request(reason).errors)
        elif operation.api.name == "inventory":
            details.append(
                api_detail("inventory", 25709, fieldName=problem.name, long_message=problem.detail)
            )
        else:
            details.append(api_detail("fulfillment", 32600, long_message=f"{problem.name}: {problem.detail}"))
    return EbayError(400, *details)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def _checked(send: Send, request: SpecRequest) -> Send:
    """Holds the response until it is complete, checks it against the spec, then sends it."""
    start: dict[str, Any] = {}
    body = bytearray()

    async def send_checked(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        body.extend(message.get("body", b""))
        if message.get("more_body"):
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]]
        response = SpecResponse.build(start["status"], bytes(body), headers)
        if problems := response_problems(request, response):
            raise ConformanceError(
                f"{request.method.upper()} {request.path} -> {start['status']} breaks eBay's spec:\n"
                + "\n".join(problems)
            )
        await send(start)
        await send({"type": "http.response.body", "body": bytes(body)})

    return send_checked
