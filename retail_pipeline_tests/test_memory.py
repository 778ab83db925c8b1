"""long_lived_objects_frozen: the scrape and the sidecar keep the collector off their long-lived objects
only while they run, and leave the process as they found it."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from retail_pipeline.memory import long_lived_objects_frozen
from retail_pipeline.settings import Settings


def test_frozen_only_inside_the_block_and_nested_blocks_leave_the_outer_one_alone():
    assert gc.get_freeze_count() == 0
    with long_lived_objects_frozen():
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with long_lived_objects_frozen():
            assert 0 < gc.get_freeze_count() <= frozen  # nothing frozen again (some freed meanwhile)
        assert gc.get_freeze_count() > 0  # the inner block did not unfreeze the outer one's
    assert gc.get_freeze_count() == 0


def test_the_sidecar_freezes_while_it_serves_and_unfreezes_when_it_stops(settings_env: Settings):
    from retail_pipeline.api.app import create_app

    assert gc.get_freeze_count() == 0
    with TestClient(create_app(settings_env)) as client:
        assert client.get("/whoami").status_code == 200
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
