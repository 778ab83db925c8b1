"""Buyer messaging shared by the Dagster assets and the sidecar: posting a reply crash-safely
(`outbound`) and the customer-service reads and actions (`conversations`). No Dagster, no FastAPI."""
