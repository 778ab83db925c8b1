"""Scale out: the same definitions, their steps on Celery workers (dagster-celery) instead of in the run's
own process, when DAGSTER_EXECUTOR=celery. The broker (Redis or RabbitMQ) is CELERY_BROKER_URL.

Queues per kind of work, derived in one place from the pool a step already holds (the pools name the
external system a step calls: dagster.yaml), so a step is never tagged twice and a new step lands on the
right workers by choosing its pool:

    scraping      supplier_web               supplier storefronts and their images
    llm           llm_api                    the OpenAI-compatible endpoint
    channel_apis  channel_*_apis, carriers,  marketplaces, Mirakl, Canada Post, the ECB
                  fx
    browser       a step working a channel whose plug-in drives a browser (Channel.pool "browser")
    dagster       everything else (database-only steps: drafts, LaunchLock checks, ...)

A step's own `dagster-celery/queue` tag still wins. Crash safety: a task is acknowledged only once it
has run (`task_acks_late`) and is handed back to the broker when the process running it dies
(`task_reject_on_worker_lost`), so a worker (another, or the same one's new pool process) runs the
step again; the steps are idempotent (publish: intent before the call, `find_by_sku` after a crash), so
the rerun duplicates nothing. A whole machine lost leaves its task unacknowledged: Redis hands it out
again after the broker's visibility timeout (an hour by default), RabbitMQ when the connection drops.
"""

from __future__ import annotations

import functools
from typing import Any

import dagster as dg

from retail_pipeline.settings import Settings, get_settings

DEFAULT_QUEUE = "dagster"
BROWSER_QUEUE = "browser"
QUEUE_BY_POOL = {
    "supplier_web": "scraping",
    "llm_api": "llm",
    "channel_listing_apis": "channel_apis",
    "channel_order_apis": "channel_apis",
    "channel_message_apis": "channel_apis",
    "canadapost_api": "channel_apis",
    "ecb_api": "channel_apis",
}
QUEUES = (DEFAULT_QUEUE, *dict.fromkeys(QUEUE_BY_POOL.values()), BROWSER_QUEUE)  # every queue, once
QUEUE_TAG = "dagster-celery/queue"
RESULT_POLL_SECONDS = 0.2


def queue_for(pool: str | None, tags: dict[str, str], run_tags: dict[str, str]) -> str:
    """The Celery queue of one step: its own tag, else by its pool; a step working a browser-driven
    channel (the run's channel partition) goes to the browser workers."""
    if QUEUE_TAG in tags:
        return tags[QUEUE_TAG]
    queue = QUEUE_BY_POOL.get(pool or "", DEFAULT_QUEUE)
    if queue == "channel_apis":
        from retail_pipeline.channels.registry import channel, channel_names

        partition = run_tags.get("dagster/partition/channel") or run_tags.get("dagster/partition")
        if partition in channel_names() and channel(partition).pool == BROWSER_QUEUE:
            return BROWSER_QUEUE
    return queue


def result_backend(settings: Settings) -> str:
    """Where step results wait for the run: the broker itself when it is Redis, else Celery's rpc://."""
    if settings.celery_result_backend:
        return settings.celery_result_backend
    broker = settings.celery_broker_url
    return broker if broker.startswith(("redis://", "rediss://")) else "rpc://"


def celery_config(settings: Settings) -> dict[str, Any]:
    """The celery_executor's config; the workers build their app from the same (`worker_app`)."""
    return {
        "broker": settings.celery_broker_url,
        "backend": result_backend(settings),
        "config_source": {
            "task_acks_late": True,  # acknowledged once run: a task whose worker dies is not lost
            "task_reject_on_worker_lost": True,  # ... and goes back to the queue at once
            "worker_prefetch_multiplier": 1,  # a long step never holds a second one hostage
            "broker_connection_retry_on_startup": True,
            "result_expires": 24 * 3600,
        },
    }


def _submit(app, plan_context, step, queue, priority, known_state):
    """dagster-celery's submission, to the step's queue by name (workers declare the same queue with
    `-Q`, so any broker routes it); the queue chosen by `queue_for`."""
    from dagster._grpc.types import ExecuteStepArgs
    from dagster._serdes import pack_value
    from dagster_celery.config import TASK_EXECUTE_PLAN_NAME
    from dagster_celery.tasks import create_task

    queue = queue_for(step.pool, dict(step.tags or {}), dict(plan_context.dagster_run.tags))
    # dagster-celery's own "Submitting ..." event names the queue it would have used: say which it is.
    plan_context.instance.report_engine_event(
        f'Step "{step.key}" goes to Celery queue "{queue}" (pool: {step.pool or "none"}).',
        plan_context.dagster_run,
        step_key=step.key,
    )
    args = ExecuteStepArgs(
        job_origin=plan_context.reconstructable_job.get_python_origin(),
        run_id=plan_context.dagster_run.run_id,
        step_keys_to_execute=[step.key],
        instance_ref=plan_context.instance.get_ref(),
        retry_mode=plan_context.executor.retries.for_inner_plan(),
        known_state=known_state,
        print_serialized_events=True,
    )
    task = app.tasks.get(TASK_EXECUTE_PLAN_NAME) or create_task(app)  # registered once per app
    signature = task.si(
        execute_step_args_packed=pack_value(args),
        executable_dict=plan_context.reconstructable_job.to_dict(),
    )
    return signature.apply_async(priority=priority, queue=queue)


@functools.cache  # one class, and the library's poll interval set once per process
def _executor_class():
    from dagster_celery import core_execution_loop
    from dagster_celery.executor import CeleryExecutor

    # dagster-celery looks for finished steps once a second: a chain of short steps (most of ours take
    # well under a second) would wait that long per step. A result check is one broker round trip.
    core_execution_loop.TICK_SECONDS = RESULT_POLL_SECONDS
    core_celery_execution_loop = core_execution_loop.core_celery_execution_loop

    class QueuedCeleryExecutor(CeleryExecutor):
        def execute(self, plan_context, execution_plan):
            return core_celery_execution_loop(plan_context, execution_plan, step_execution_fn=_submit)

    return QueuedCeleryExecutor


@dg.executor(
    name="celery",
    config_schema={"broker": str, "backend": str, "config_source": dg.Permissive()},
    requirements=dg.multiple_process_executor_requirements(),
)
def queued_celery_executor(init_context: dg.InitExecutorContext):
    from dagster._core.execution.retries import RetryMode

    # Enabled: an op's RetryPolicy (429s, 5xx) has the step resubmitted; a lost worker is the broker's.
    return _executor_class()(retries=RetryMode.ENABLED, **init_context.executor_config)


def configured_executor(settings: Settings | None = None) -> dg.ExecutorDefinition | None:
    """The executor DAGSTER_EXECUTOR selects: None keeps Dagster's default (steps in the run's process)."""
    settings = settings or get_settings()
    if settings.dagster_executor != "celery":
        return None
    return queued_celery_executor.configured(celery_config(settings))


def worker_app(settings: Settings | None = None):
    """The Celery app a worker runs: dagster-celery's step task, on the executor's broker and settings."""
    from dagster._core.execution.retries import RetryMode
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app
    from dagster_celery.tasks import create_task

    executor = CeleryExecutor(retries=RetryMode.ENABLED, **celery_config(settings or get_settings()))
    app = make_app({k: v for k, v in executor.app_args().items() if k != "retries"})
    create_task(app)
    return app


def worker_argv(queues: list[str], *, concurrency: int, pool: str, name: str | None) -> list[str]:
    argv = ["worker", "-Q", ",".join(queues), "--concurrency", str(concurrency), "--pool", pool, "-O", "fair"]
    argv += ["--loglevel", "INFO", "--without-gossip", "--without-mingle"]
    return argv + (["-n", f"{name}@%h"] if name else [])
