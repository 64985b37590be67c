"""app/storage."""
