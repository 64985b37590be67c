"""Dialogs, each with a classmethod `ask(...)` that tests can stub instead of running a modal loop."""
