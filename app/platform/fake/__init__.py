"""app/platform/fake."""
