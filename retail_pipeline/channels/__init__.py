"""Sales channels as plug-ins: `registry.py` lists them, `plugin.py` says what one declares, and each
channel's module (`<name>.py`: client and settings, order normaliser, tracking, inbox, listing policy)
provides it. No Dagster and no FastAPI in here."""
