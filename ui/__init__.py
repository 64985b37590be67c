"""Closeout's desktop app: PySide6 + qasync live only under this package."""
