"""The LLM that enriches products: any OpenAI-compatible chat completions endpoint, or offline."""

from .client import EnrichmentFailed, EnrichmentResult, LLMClient, LLMUnavailable, Usage
from .endpoint import LLMMode, LLMSettings, resolve_endpoint

__all__ = [
    "EnrichmentFailed",
    "EnrichmentResult",
    "LLMClient",
    "LLMMode",
    "LLMSettings",
    "LLMUnavailable",
    "Usage",
    "resolve_endpoint",
]
