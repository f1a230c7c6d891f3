"""Typed errors raised by the ingestion layer. Each message is a sentence a user can act on."""


class IngestError(Exception):
    """Base class of every error the ingestion layer raises on purpose."""
