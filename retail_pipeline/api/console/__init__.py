"""The ops console: server-rendered pages under /console over the same functions as the JSON routes."""
