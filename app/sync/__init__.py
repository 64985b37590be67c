"""app/sync."""
