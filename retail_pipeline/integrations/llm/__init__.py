"""The LLM that enriches products: any OpenAI-compatible chat completions endpoint, or offline."""

from .client import EnrichmentFailed, EnrichmentResult, LLMClient, LLMUnavailable, Usage
from .resource import LLMMode, LLMResource, LLMSettings, resolve_endpoint

__all__ = [
    "EnrichmentFailed",
    "EnrichmentResult",
    "LLMClient",
    "LLMMode",
    "LLMResource",
    "LLMSettings",
    "LLMUnavailable",
    "Usage",
    "resolve_endpoint",
]
