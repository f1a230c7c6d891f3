"""Ingestion on an existing distributed task queue (Procrastinate on the PostgreSQL already there):
app processes queue documents, `kb worker` processes on any machine ingest them."""
