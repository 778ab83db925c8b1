"""Canada Post's error body: `<messages xmlns="http://www.canadapost.ca/ws/messages">` with one
`<message><code/><description/></message>` per problem (messages.xsd).

Codes used here, as Canada Post answers them: `Server` with a `cvc-…` description for a body that
breaks the schema (the description names the resource, as Canada Post's does), `E002` for
authentication and authorisation failures, `004` "No Pin History" for tracking, and "Rejected by SLM
Monitor" when a key is throttled. Business-rule codes (`8xxx`/`9xxx`) are indicative: the published
list is long and we model only the rules the simulator enforces.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from lxml import etree

MESSAGES_NS = "http://www.canadapost.ca/ws/messages"
THROTTLED = "Rejected by SLM Monitor"


def messages_xml(messages: list[tuple[str, str]]) -> bytes:
    root = etree.Element(f"{{{MESSAGES_NS}}}messages", nsmap={None: MESSAGES_NS})
    for code, description in messages:
        message = etree.SubElement(root, f"{{{MESSAGES_NS}}}message")
        etree.SubElement(message, f"{{{MESSAGES_NS}}}code").text = code
        etree.SubElement(message, f"{{{MESSAGES_NS}}}description").text = description
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


class CanadaPostError(Exception):
    def __init__(
        self,
        status: int,
        messages: list[tuple[str, str]],
        *,
        media_type: str = "application/vnd.cpc.ncshipment-v4+xml",
        headers: dict[str, str] | None = None,
    ):
        super().__init__(f"{status}: {messages}")
        self.status, self.messages, self.media_type = status, messages, media_type
        self.headers = headers or {}


async def canadapost_error_handler(request: Request, exc: CanadaPostError) -> Response:
    return Response(messages_xml(exc.messages), exc.status, headers=exc.headers, media_type=exc.media_type)


def unauthorized(description: str) -> CanadaPostError:
    return CanadaPostError(
        401, [("E002", description)], headers={"WWW-Authenticate": 'Basic realm="canadapost"'}
    )


def invalid_body(resource: str, problems: list[str]) -> CanadaPostError:
    return CanadaPostError(400, [("Server", f"{resource}: {problem}") for problem in problems[:5]])


def not_found(description: str = "The requested resource was not found.") -> CanadaPostError:
    return CanadaPostError(404, [("Server", description)])


def business(code: str, description: str) -> CanadaPostError:
    return CanadaPostError(400, [(code, description)])


def throttled() -> CanadaPostError:
    return CanadaPostError(503, [("Server", THROTTLED)], headers={"Retry-After": "60"})
