"""The facade's services: what a team lead does, split by concern, each page getting the one it needs.

`app.bootstrap.Supervisor` builds them on one shared core (`core.py`); they never import one another.
"""
