"""The wire format of OpenAI's chat completions and models: bodies, usage, rate-limit headers."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from .models import Window

OWNER = "retail-pipeline-simulator"
MODELS_CREATED = 1_715_367_049  # a fixed instant: model listings do not change between calls


def tokens(text: str) -> int:
    """OpenAI's rule of thumb, about four characters of English per token."""
    return math.ceil(len(text) / 4)


def prompt_tokens(messages: list[dict[str, Any]], schema: dict[str, Any] | None) -> int:
    """Content plus the per-message framing the chat format adds; a response schema is prompt too."""
    total = 3 + sum(4 + tokens(_content_text(m.get("content"))) for m in messages)
    return total + (tokens(json.dumps(schema)) if schema else 0)


def _content_text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def completion(
    *,
    number: int,
    request_digest: str,
    created: int,
    model: str,
    choices: list[dict[str, Any]],
    prompt: int,
    completion_tokens: int,
) -> dict[str, Any]:
    digest = hashlib.sha256(f"{request_digest}:{number}".encode()).hexdigest()
    return {
        "id": f"chatcmpl-{digest[:29]}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": f"fp_{digest[29:39]}",
    }


def choice(index: int, content: str | None, finish_reason: str, refusal: str | None = None) -> dict[str, Any]:
    return {
        "index": index,
        "message": {"role": "assistant", "content": content, "refusal": refusal, "annotations": []},
        "logprobs": None,
        "finish_reason": finish_reason,
    }


def model_object(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": MODELS_CREATED, "owned_by": OWNER}


def model_list(model_ids: tuple[str, ...]) -> dict[str, Any]:
    return {"object": "list", "data": [model_object(m) for m in model_ids]}


def _duration(seconds: float) -> str:
    """OpenAI's reset format: 1s, 6m0s, 120ms."""
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def rate_limit_headers(window: Window) -> dict[str, str]:
    """Both budgets refill when the simulator's one-minute window ends."""
    return {
        "x-ratelimit-limit-requests": str(window.limit_requests),
        "x-ratelimit-limit-tokens": str(window.limit_tokens),
        "x-ratelimit-remaining-requests": str(window.remaining_requests),
        "x-ratelimit-remaining-tokens": str(window.remaining_tokens),
        "x-ratelimit-reset-requests": _duration(window.reset_seconds),
        "x-ratelimit-reset-tokens": _duration(window.reset_seconds),
    }
