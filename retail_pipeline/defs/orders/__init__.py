"""Orders: sync from every channel (channel × day), the Shopify orders webhook, and stock across channels."""
