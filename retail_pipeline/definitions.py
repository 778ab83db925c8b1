"""The one Definitions object: everything under defs/ plus the shared resources."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from retail_pipeline.integrations.llm import LLMResource
from retail_pipeline.resources import DatabaseResource


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions.merge(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent),
        dg.Definitions(resources={"db": DatabaseResource(), "llm": LLMResource()}),
    )
