"""The respond.io Developer API v2: the paced client, webhook checks, and a fake workspace to run against."""
