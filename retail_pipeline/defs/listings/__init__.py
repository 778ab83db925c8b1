"""Listings: drafts per channel, and the channel listings published from them."""
