"""A fake respond.io workspace for demo mode, tests and benchmarks: `create_fake_platform(...)`."""

from app.platform.fake.platform import DEFAULT_TOKEN, IN_PROCESS_URL, FakePlatform, create_fake_platform

__all__ = ["DEFAULT_TOKEN", "IN_PROCESS_URL", "FakePlatform", "create_fake_platform"]
