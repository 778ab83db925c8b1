"""The `carriers` resource (one client per carrier), bound here so the fulfilment area owns it."""

import dagster as dg

from retail_pipeline.integrations.carriers import CarriersResource

defs = dg.Definitions(resources={"carriers": CarriersResource()})
