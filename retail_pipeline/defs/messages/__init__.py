"""Buyer messages (seed 004 "Customer Service Sync"): the threads of every channel whose plug-in has an
inbox, synced into retail.conversations / messages, then templated auto-replies."""
