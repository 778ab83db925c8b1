"""Kaufland's error bodies: `{"message": …, "errors": [{"field", "message"}], "type": "/problems/…"}`
(the spec's ErrorResponse; `type` from its ProblemType list). A 404 for a path id is `{"message"}`
where the spec says NotFoundResponse; the simulator answers ErrorResponse elsewhere, as the spec lists."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse


class KauflandError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[dict[str, str]] | None = None,
        problem: str | None = None,
        headers: dict[str, str] | None = None,
        bare: bool = False,
    ):
        super().__init__(f"{status}: {message}")
        self.status, self.message, self.errors, self.problem = status, message, errors or [], problem
        self.headers, self.bare = headers or {}, bare

    def body(self) -> dict:
        if self.bare:  # NotFoundResponse: {"message"} only
            return {"message": self.message}
        return {"message": self.message, "errors": self.errors} | (
            {"type": self.problem} if self.problem else {}
        )


async def kaufland_error_handler(request: Request, exc: KauflandError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


def invalid(
    errors: list[dict[str, str]], message: str = "Request parameters have invalid values"
) -> KauflandError:
    return KauflandError(400, message, errors=errors, problem="/problems/validation-error")


def field_error(field: str, message: str) -> KauflandError:
    return invalid([{"field": field, "message": message}])


def not_found(what: str, bare: bool = False) -> KauflandError:
    return KauflandError(404, f"{what} not found", problem=None if bare else "/problems/not-found", bare=bare)


def not_allowed(message: str, status: int = 400) -> KauflandError:
    return KauflandError(status, message, problem="/problems/action-not-allowed")


def unauthorized(message: str, problem: str) -> KauflandError:
    return KauflandError(401, message, problem=problem)
