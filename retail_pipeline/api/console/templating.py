"""Rendering console pages: Jinja2 with autoescaping on, so text from suppliers and buyers stays text."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from retail_pipeline.api.auth import Principal
from retail_pipeline.media.links import MediaPathError, media_url

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

templates = Jinja2Templates(directory=TEMPLATES_DIR)  # autoescape is on for .html templates


def age(value: datetime | None, now: datetime | None = None) -> str:
    """'3m', '5h', '2d': how long ago, the way an inbox shows it."""
    if value is None:
        return ""
    seconds = max(0, int(((now or datetime.now(UTC)) - value).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def money(value: Any, currency: str | None = None) -> str:
    if value is None:
        return "—"
    text = f"{float(value):,.2f}"
    return f"{text} {currency}" if currency else text


def media_link(rel_path: str | None) -> str | None:
    """A signed `/media/…` link to a file under the media root (a browser trace an ops task names);
    None for a path the media route would refuse."""
    if not rel_path:
        return None
    try:
        return media_url(rel_path)
    except MediaPathError:
        return None


templates.env.filters["age"] = age
templates.env.filters["money"] = money
templates.env.filters["media_link"] = media_link


def render(
    request: Request, template: str, context: dict[str, Any], principal: Principal, *, status_code: int = 200
) -> HTMLResponse:
    """A page for `principal`: the template gets the person's role, CSRF token and whether they may act."""
    page = {
        "principal": principal,
        "csrf_token": principal.csrf_token or "",
        "can_act": principal.can_act,
        "is_admin": principal.role == "admin",
        "dagster_ui": request.app.state.settings.dagster_ui_base,
        **context,
    }
    return templates.TemplateResponse(request, template, page, status_code=status_code)
