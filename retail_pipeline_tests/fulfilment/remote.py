"""Moved to retail_pipeline_tests/defs/fulfilment/remote.py; kept while test_cli.py imports it from here."""

from retail_pipeline_tests.defs.fulfilment.remote import URL, remote_tracking

__all__ = ["URL", "remote_tracking"]
