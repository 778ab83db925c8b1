"""Mirakl's own schemas (a subset of the seller OpenAPI, `specs/`), to check what the simulator sends
and what the client posts: `problems("OR11_Response_200", body)` lists what does not conform."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC = Path(__file__).parent / "specs" / "mirakl-seller-subset.json"
SPEC_URI = "urn:mirakl-seller"


@cache
def _registry() -> Registry:
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    return Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012))


def problems(schema_name: str, instance: Any) -> list[str]:
    """Each way `instance` breaks the spec's `#/components/schemas/<schema_name>`, as path: message."""
    validator = Draft202012Validator(
        {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"}, registry=_registry()
    )
    return sorted(
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in validator.iter_errors(instance)
    )
