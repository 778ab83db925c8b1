"""The `order_sources` resource (one order client per channel and their clock), owned by the orders area."""

import dagster as dg

from retail_pipeline.defs.orders.sources import OrderSourcesResource

defs = dg.Definitions(resources={"order_sources": OrderSourcesResource()})
