"""Item models: each one is checked by pytest-qt's model tester."""
