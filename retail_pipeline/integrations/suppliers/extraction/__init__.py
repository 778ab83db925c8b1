"""Generic product-page extraction: structured markup first, the visible page where markup is missing
or contradicted. The public entry points live in `retail_pipeline.integrations.suppliers.extract`."""
