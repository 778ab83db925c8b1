"""A job for the Celery workers of test_celery.py to load (they import it as they import the project's
definitions): an op that fails its first attempt, as a step meeting a 503 does."""

import dagster as dg

from retail_pipeline.scale_out import configured_executor


@dg.op(retry_policy=dg.RetryPolicy(max_retries=1))
def flaky(context: dg.OpExecutionContext) -> None:
    if context.retry_number == 0:
        raise RuntimeError("503 Service Unavailable")


@dg.job
def flaky_job() -> None:
    flaky()


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=[flaky_job], executor=configured_executor())
