"""Product media: the content-addressed store (`store.py`) and the signed links that open it (`links.py`)."""
