"""Buyer messages (seed 004 "Customer Service Sync"): Mirakl (Best Buy) inbox threads and Reverb
conversations synced into retail.conversations / messages, then templated auto-replies."""
