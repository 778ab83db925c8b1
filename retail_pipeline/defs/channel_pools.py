"""A channel's own Dagster pool, held for the time a step works that channel.

Steps are pooled per asset (`channel_listing_apis` covers every channel), so a channel whose plug-in
names a pool of its own (`Channel.pool`: "browser" for a browser-driven channel) holds a slot of
that pool too, in the same instance and with the same claim/free calls Dagster's executor makes:
while the pool is full the step waits and claims again. The slot is the run's, so run monitoring
frees it after a crashed run (`free_slots_after_run_end_seconds`).

A pool the instance has no limit for yet starts at DEFAULT_LIMITS (one browser at a time); an
operator's `dagster instance concurrency set browser <n>` is kept.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from retail_pipeline.channels.registry import channel as channel_plugin

DEFAULT_LIMITS = {"browser": 1}
POLL_SECONDS = 0.5


def ensure_pool_limit(instance: dg.DagsterInstance, pool: str) -> None:
    storage = instance.event_log_storage
    if not any(limit.name == pool for limit in storage.get_pool_limits()):
        storage.set_concurrency_slots(pool, DEFAULT_LIMITS.get(pool, 1))


@contextmanager
def holding_channel_pool(
    context: dg.AssetExecutionContext | dg.OpExecutionContext, channel: str
) -> Iterator[str | None]:
    """Holds a slot of the channel's pool (waiting for one) for the block; the pool's name, or None
    when the channel has none (or the instance keeps no pools: an in-memory test instance)."""
    pool = channel_plugin(channel).pool
    instance = context.instance
    storage = instance.event_log_storage
    if pool is None or not storage.supports_global_concurrency_limits:
        yield None
        return
    ensure_pool_limit(instance, pool)
    run_id = context.run_id
    op_context = getattr(context, "op_execution_context", context)  # an asset's, or an op's own
    step = op_context.get_step_execution_context().step.key
    step_key = f"{step}[{channel}]"  # its own claim, apart from the step's claims in its own pool
    waited = False
    while not storage.claim_concurrency_slot(pool, run_id, step_key).is_claimed:
        if not waited:
            context.log.info(f"waiting for a slot of pool {pool!r} ({channel})")
            waited = True
        time.sleep(POLL_SECONDS)
    try:
        yield pool
    finally:
        storage.free_concurrency_slot_for_step(run_id, step_key)
