"""An OpenAI-compatible LLM: chat completions with structured output, models, errors and rate limits."""

from .models import LLMBackend, LLMSimulatorConfig, OutputFaults
from .routes import build

__all__ = ["LLMBackend", "LLMSimulatorConfig", "OutputFaults", "build"]
