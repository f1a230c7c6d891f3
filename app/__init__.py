"""Application layer: settings, service facade, retrieval chain, HTTP API, auth, eval, CLI."""
