"""Finished widgets: each adds the logic (signals, slots, async work) to a view's layout."""
