"""Layout-only classes: they build and arrange child widgets, and hold no logic."""
