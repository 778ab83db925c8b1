"""Ops: what the pipeline itself reports to the ops inbox (failed runs)."""
