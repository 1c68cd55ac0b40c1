"""outreach_async: the asyncio client for the Outreach REST API v2."""
