"""The FastAPI sidecar: health, signed media, identity and role checks over the shared PostgreSQL."""
