"""API keys for the HTTP API."""
