"""Orders: sync from every channel (channel × day), the channels' order webhooks, and stock across channels."""
