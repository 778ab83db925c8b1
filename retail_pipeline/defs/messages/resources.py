"""The `inbox` resource (one buyer inbox per channel), bound here so the messages area owns it."""

import dagster as dg

from retail_pipeline.defs.messages.inbox import InboxResource

defs = dg.Definitions(resources={"inbox": InboxResource()})
