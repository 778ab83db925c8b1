"""The `channels` resource (one client per sales channel), bound here so the listing area owns it."""

import dagster as dg

from retail_pipeline.integrations.marketplaces import ChannelsResource

defs = dg.Definitions(resources={"channels": ChannelsResource()})
