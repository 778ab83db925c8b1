"""The kill test: a process dies (os._exit, no cleanup, no commit) between the remote create and the
local commit; a fresh process re-runs the publish and the channel holds exactly one listing."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from retail_pipeline.defs.listings.drafts import build_drafts
from retail_pipeline_tests.simulated_channels import CHANNELS

from .conftest import create_calls, listing_rows

SCRIPT = textwrap.dedent(
    """
    import os, sys
    from retail_pipeline.channels.registry import channel
    from retail_pipeline.db.engine import get_engine
    from retail_pipeline.defs.listings.publish import run_publish

    name, db_url, kill_sku = sys.argv[1], sys.argv[2], sys.argv[3]

    def die(sku, remote):
        if sku == kill_sku:
            os._exit(9)  # killed: the remote listing exists, our commit never happens

    # The client ChannelsResource().client(channel) makes, without importing Dagster (seconds a process).
    result = run_publish(get_engine(db_url), channel(name).new_client(),
                         media_url=lambda p: "http://127.0.0.1:8000/media/" + p + "?expires=9999999999&token=t",
                         after_create=die if kill_sku != "-" else None)
    print(result.counts)
    """
)


def run(channel: str, db_url: str, kill_sku: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, channel, db_url, kill_sku],
        env=dict(os.environ), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("channel", CHANNELS)
def test_kill_between_create_and_commit_then_rerun_finds_one_listing(
    channel, engine, seeded, sim, simulator_url, db_url
):
    with engine.begin() as conn:
        build_drafts(conn, channel)
    killed = run(channel, db_url, "RP-1002")
    assert killed.returncode == 9, killed.stderr[-2000:]
    assert listing_rows(engine, channel)["RP-1002"]["actual_state"] == "pending"
    assert create_calls(sim, channel) == 2  # RP-1001 and the killed RP-1002 reached the channel
    rerun = run(channel, db_url, "-")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "'adopted': 1" in rerun.stdout
    assert create_calls(sim, channel) == 3  # one remote create per SKU, ever
    rows = listing_rows(engine, channel)
    assert {r["actual_state"] for r in rows.values()} == {"live"}
    assert len({r["external_listing_id"] for r in rows.values()}) == 3
