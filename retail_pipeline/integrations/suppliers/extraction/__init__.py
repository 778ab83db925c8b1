"""Generic product-page extraction: structured markup first, the visible page where markup is missing
or contradicted. The public entry points live in `extract.py`; `prices.py` reads the price, currency,
availability and condition text shops write."""
