"""The console's own routes (sign-in, sign-out, static files) and how pages require a signed-in person.

A page dependency (``PageViewer`` …) sends someone without a session to the sign-in form and answers 403
to a role that is too low. Everything a page changes goes through the JSON routes' functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from retail_pipeline.api import keys
from retail_pipeline.api.auth import ANONYMOUS, Principal, current_principal, require_role
from retail_pipeline.api.console import session_store as sessions
from retail_pipeline.api.console.templating import STATIC_DIR, render
from retail_pipeline.api.database import db_engine

router = APIRouter(tags=["console"], include_in_schema=False)


class SignInRequired(Exception):
    def __init__(self, next_path: str):
        self.next_path = next_path


def page_role(minimum: str) -> Callable[..., Principal]:
    keys.check_role(minimum)
    guard = require_role(minimum)

    def dependency(
        request: Request, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        if principal.role == keys.ANONYMOUS and request.method in ("GET", "HEAD"):
            raise SignInRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return guard(principal)

    return dependency


PageViewer = Annotated[Principal, Depends(page_role("viewer"))]
PageOperator = Annotated[Principal, Depends(page_role("operator"))]
PageAdmin = Annotated[Principal, Depends(page_role("admin"))]


def _safe_next(value: str | None) -> str:
    # Only a path inside the console: never another host ("//evil", "https://…") after signing in.
    if value and value.startswith("/console") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console"


def _is_https(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


@router.get("/console/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "signin.html", {"next": _safe_next(next), "error": None}, ANONYMOUS)


@router.post("/console/signin")
def signin(
    request: Request,
    engine: Annotated[Engine, Depends(db_engine)],
    api_key: Annotated[str, Form(max_length=200)],
    next: Annotated[str | None, Form()] = None,
) -> Response:
    settings = request.app.state.settings
    try:
        token, _ = sessions.open_session(
            engine, api_key.strip(), hours=settings.console_session_hours,
            user_agent=request.headers.get("user-agent"),
        )  # fmt: skip
    except keys.ApiKeyRejected as exc:
        context = {"next": _safe_next(next), "error": str(exc).replace("X-API-Key header", "key")}
        return render(request, "signin.html", context, ANONYMOUS, status_code=status.HTTP_401_UNAUTHORIZED)
    response = RedirectResponse(_safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        sessions.COOKIE_NAME, token, max_age=int(settings.console_session_hours * 3600), path="/",
        httponly=True, samesite="strict", secure=_is_https(request),
    )  # fmt: skip
    return response


@router.post("/console/signout")
def signout(
    principal: Annotated[Principal, Depends(current_principal)], engine: Annotated[Engine, Depends(db_engine)]
):
    # current_principal has checked the CSRF token: another site cannot sign a person out.
    if principal.session_id is not None:
        sessions.end_session(engine, principal.session_id)
    response = RedirectResponse("/console/signin", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(sessions.COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


def install(app: FastAPI, page_routers: list[APIRouter]) -> None:
    """Add the console to the sidecar: its routes, its static files, the redirect to sign in."""

    async def to_signin(request: Request, exc: SignInRequired) -> Response:
        if request.headers.get("hx-request"):  # an htmx call after the session ended: reload into sign-in
            return Response(status_code=204, headers={"HX-Redirect": "/console/signin"})
        return RedirectResponse(f"/console/signin?next={quote(exc.next_path)}", status_code=303)

    async def console_error(request: Request, exc: StarletteHTTPException) -> Response:
        # A person following a link gets a page; scripts and htmx calls keep the JSON error.
        wants_page = (
            request.url.path.startswith("/console") and request.method == "GET"
            and "text/html" in request.headers.get("accept", "") and not request.headers.get("hx-request")
        )  # fmt: skip
        if not wants_page:
            return await http_exception_handler(request, exc)
        heading = {403: "Not allowed", 404: "Not found"}.get(exc.status_code, "Something went wrong")
        context = {"heading": heading, "message": exc.detail, "status_code": exc.status_code}
        return render(request, "error.html", context, ANONYMOUS, status_code=exc.status_code)

    app.add_exception_handler(SignInRequired, to_signin)
    app.add_exception_handler(StarletteHTTPException, console_error)
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    app.include_router(router)
    for page in page_routers:
        app.include_router(page)
