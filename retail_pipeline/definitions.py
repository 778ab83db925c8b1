"""The one Definitions object: everything under defs/ (its resources in defs/resources.py), and the
executor DAGSTER_EXECUTOR selects (retail_pipeline/scale_out.py; unset: Dagster's default)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from retail_pipeline.scale_out import configured_executor


@dg.definitions
def defs() -> dg.Definitions:
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    executor = configured_executor()
    return loaded if executor is None else dg.Definitions.merge(loaded, dg.Definitions(executor=executor))
