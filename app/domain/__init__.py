"""The domain: plain dataclasses, enums and errors, shared by every part of Closeout. Standard library only."""
