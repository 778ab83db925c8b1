"""Fulfilment: shipping labels bought from the carriers (labels.py), then tracking pushed to channels."""
