"""Reverb's categories over the shared product tree (`simulators.taxonomy_data`): musical gear only, as
Reverb's own taxonomy is, so a phone or a kettle has no Reverb category.

`GET /api/categories/flat` → `{"categories": [{uuid, name, full_name, root_uuid, _links}]}`: the
Musical Instruments branch's categories below its top two levels, roots ("Guitars") and their
subcategories ("Guitars / Electric Guitars"), uuids uuid5 of the node's key. Reverb has no
category-suggestion endpoint: a client ranks this list itself.
"""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any

from .. import taxonomy_data

BRANCH = "musical-instruments"
NAMESPACE = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")  # uuid.NAMESPACE_URL


def category_uuid(key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"reverb:{key}"))


@cache
def categories() -> tuple[tuple[taxonomy_data.Node, str, str], ...]:
    """(node, uuid, root uuid) of every Reverb category: depth 3 are roots, their leaves subcategories."""
    out = []
    for node in taxonomy_data.nodes():
        if not node.key.startswith(BRANCH + "/") or node.depth < 3:
            continue
        root_key = "/".join(node.key.split("/")[:3])
        out.append((node, category_uuid(node.key), category_uuid(root_key)))
    return tuple(out)


@cache
def known() -> frozenset[str]:
    return frozenset(u for _, u, _ in categories())


def flat(api_url: str) -> dict[str, Any]:
    return {
        "categories": [
            {
                "uuid": category_uuid_,
                "name": node.name,
                "full_name": " / ".join(node.path[2:]),
                "root_uuid": root,
                "_links": {"self": {"href": f"{api_url}/categories/{category_uuid_}"}},
            }
            for node, category_uuid_, root in categories()
        ]
    }
