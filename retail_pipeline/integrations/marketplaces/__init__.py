"""What every sales channel's client shares: the `ChannelClient` interface and errors (`base.py`) and the
JSON-over-HTTP plumbing (`rest.py`). The channels themselves are plug-ins under `retail_pipeline/channels/`."""
