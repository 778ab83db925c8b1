"""Enrichment through any OpenAI-compatible chat completions endpoint, with structured output.

One call = one product: the prompt and strict JSON schema come from ``domain.enrichment``, the answer
is validated against ``EnrichmentOutput``. Retries (``integrations.retrying``, bounded by ``max_attempts`` per product)
cover two kinds of trouble:

- the service: 429, 5xx, timeouts and dropped connections, with exponential backoff that honours
  Retry-After (a longer Retry-After than ``max_retry_after_seconds`` ends the retries);
- the answer: invalid JSON, a schema violation, a refusal or a truncated answer
  (``finish_reason == "length"``), retried at once, since waiting does not make a model write better.

The SDK's own retries are off so that every request is counted and paced here. Errors no retry can
fix for the whole run (bad key, unknown model, no quota) raise ``LLMUnavailable``; what is left
after the retries raises ``EnrichmentFailed`` for that one product, with the tokens it cost.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from retail_pipeline.domain.enrichment import (
    EnrichmentInput,
    InvalidOutput,
    build_messages,
    parse_output,
    response_format,
)
from retail_pipeline.integrations.http import tls_context
from retail_pipeline.integrations.retrying import Transient, exponential_backoff, retry_transient_blocking


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens
        )


@dataclass(frozen=True)
class EnrichmentResult:
    output: Any  # EnrichmentOutput for enrich(); whatever `parse` made for structured()
    usage: Usage  # summed over every attempt: what the product cost
    model: str | None  # as the service reported it; None for the offline enricher
    raw: str | None  # the message content that was accepted
    attempts: int  # requests made (0 offline)


class EnrichmentFailed(Exception):
    """One product could not be enriched after the retries; ``reason`` is what gets recorded."""

    def __init__(
        self, reason: str, *, usage: Usage = Usage(), attempts: int = 0, service_trouble: bool = False
    ):
        super().__init__(reason)
        self.reason = reason
        self.usage = usage
        self.attempts = attempts
        self.service_trouble = service_trouble  # the service, not the answer, was the problem


class LLMUnavailable(Exception):
    """A problem with the configuration or the account, not with one product: stop the run."""


class _ServiceTrouble(Transient):
    """Worth retrying after a wait (at least the Retry-After): 429, 5xx, a timeout, a dropped
    connection, a garbled body."""

    def __init__(self, reason: str, headers: Mapping[str, str] | None = None):
        super().__init__(reason, ambiguous=False, wait=_retry_after_seconds(headers or {}))


class _UnusableAnswer(Transient):
    """The model's answer cannot be used (invalid JSON, schema, refusal, truncation): ask again."""

    at_once = True

    def __init__(self, invalid: InvalidOutput):
        super().__init__(invalid.reason, ambiguous=False)


_FATAL = (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)


def _describe(error: openai.APIError) -> str:
    if isinstance(error, openai.APIStatusError):
        detail = error.body.get("message") if isinstance(error.body, dict) else None  # OpenAI's error body
        return f"HTTP {error.status_code}: {detail}" if detail else f"HTTP {error.status_code}"
    return f"{type(error).__name__}: {error.message}"


def _attempts(count: int) -> str:
    return f"after {count} attempt{'s' if count != 1 else ''}"


def _retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    if milliseconds := headers.get("retry-after-ms"):  # OpenAI's own, finer header
        try:
            return float(milliseconds) / 1000
        except ValueError:
            pass
    value = (headers.get("retry-after") or "").strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class LLMClient:
    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str,
        model: str,
        timeout_seconds: float = 60.0,
        max_attempts: int = 3,
        max_completion_tokens: int = 1500,
        backoff_initial_seconds: float = 0.5,
        backoff_max_seconds: float = 20.0,
        max_retry_after_seconds: float = 60.0,
    ):
        self.model = model
        self.max_attempts = max_attempts
        self.max_completion_tokens = max_completion_tokens
        self._backoff = exponential_backoff(backoff_initial_seconds, backoff_max_seconds)
        self.max_retry_after_seconds = max_retry_after_seconds  # a longer Retry-After ends the retries
        self._openai = openai.OpenAI(
            base_url=base_url,
            api_key=api_key,
            timeout=timeout_seconds,
            max_retries=0,
            # the process's one TLS context: openai's own client would load the CA bundle again (~30 ms)
            http_client=openai.DefaultHttpxClient(verify=tls_context()),
        )

    def close(self) -> None:
        self._openai.close()

    def enrich(self, product: EnrichmentInput) -> EnrichmentResult:
        return self.structured(build_messages(product), response_format(), parse_output)

    def structured(
        self,
        messages: list[dict[str, str]],
        response_format: dict[str, Any],
        parse: Callable[[str | None], Any],
    ) -> EnrichmentResult:
        """One structured-output answer (`response_format` a strict json_schema), parsed by `parse`
        (which raises InvalidOutput for an answer to ask again for), with the retries above: how
        enrichment and category attributes (`domain.channel_categories`) both call the model."""
        spent = Usage()
        attempts = 0

        def attempt(_after_ambiguous: bool) -> EnrichmentResult:
            nonlocal spent, attempts
            attempts += 1
            completion = self._request(messages, response_format)
            if completion.usage:
                spent += Usage(completion.usage.prompt_tokens, completion.usage.completion_tokens)
            try:
                content = _accepted_content(completion)
                return EnrichmentResult(parse(content), spent, completion.model, content, attempts)
            except InvalidOutput as invalid:
                raise _UnusableAnswer(invalid) from invalid

        try:
            return retry_transient_blocking(
                attempt,
                max_attempts=self.max_attempts,
                backoff=self._backoff,
                max_server_wait=self.max_retry_after_seconds,
            )
        except _UnusableAnswer as error:
            reason = f"{error.reason} ({_attempts(attempts)})"
            raise EnrichmentFailed(reason, usage=spent, attempts=attempts) from error
        except _ServiceTrouble as error:
            reason = f"{error} ({_attempts(attempts)})"
            raise EnrichmentFailed(reason, usage=spent, attempts=attempts, service_trouble=True) from error
        except openai.APIStatusError as error:  # other 4xx, e.g. this product's text is over the context
            raise EnrichmentFailed(_describe(error), usage=spent, attempts=attempts) from error

    def _request(self, messages: list[dict[str, str]], response_format: dict[str, Any]) -> ChatCompletion:
        try:
            return self._openai.chat.completions.create(
                model=self.model,
                messages=messages,
                response_format=response_format,
                max_completion_tokens=self.max_completion_tokens,
            )
        except openai.RateLimitError as error:
            if error.code == "insufficient_quota":  # a 429 that no waiting fixes
                raise LLMUnavailable(_describe(error)) from error
            raise _ServiceTrouble(_describe(error), error.response.headers) from error
        except _FATAL as error:
            raise LLMUnavailable(_describe(error)) from error
        except openai.InternalServerError as error:
            raise _ServiceTrouble(_describe(error), error.response.headers) from error
        except openai.APIConnectionError as error:  # timeouts included
            raise _ServiceTrouble(_describe(error)) from error
        except json.JSONDecodeError as error:  # a 200 whose body was cut short on the way
            raise _ServiceTrouble(f"unreadable response body: {error}") from error


def _accepted_content(completion: ChatCompletion) -> str | None:
    """The message content, or InvalidOutput when the answer is not one we can use."""
    if not completion.choices:
        raise InvalidOutput("no choices in the answer")
    choice = completion.choices[0]
    if choice.message.refusal:
        raise InvalidOutput(f"refused: {choice.message.refusal}")
    if choice.finish_reason == "length":
        raise InvalidOutput("truncated: finish_reason is length")
    if choice.finish_reason == "content_filter":
        raise InvalidOutput("stopped by the content filter")
    return choice.message.content
