"""PostgreSQL advisory locks that keep the queue's workers out of each other's way.

Heartbeats only *guess* that a worker died: a live worker that falls silent for `worker_stalled_s`
(a loaded machine, a long pause) has its job queued again, and two workers must still never run
one document at once. A session lock is held by the connection that took it and released by
PostgreSQL the moment that connection ends, so a killed worker frees its document at once and a
live one keeps it, whatever its heartbeat says.

    with document_lock(dsn, 12):          # waits while another worker runs document 12
        kb.ingest_document(12)
    async with sweep_lock(dsn) as mine:   # one sweeper at a time; the others skip this round
        if mine: ...
"""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import psycopg

DOCUMENT_LOCKS = 724_513_003  # the first key of a document's lock: (DOCUMENT_LOCKS, document id)
SWEEP_LOCK = 724_513_004  # one key (other advisory locks: store.migrate, queue._SCHEMA_LOCK)


@contextmanager
def document_lock(dsn: str, document_id: int) -> Iterator[None]:
    """Hold document `document_id`'s lock for the block, waiting for the worker that holds it."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("SELECT pg_advisory_lock(%s, %s)", (DOCUMENT_LOCKS, document_id))
        try:
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s, %s)", (DOCUMENT_LOCKS, document_id))


@asynccontextmanager
async def sweep_lock(dsn: str) -> AsyncIterator[bool]:
    """True inside the block when this process may sweep; False while another one sweeps.

    Two sweeps at once would each read a stalled job and queue it again, the second after a
    worker had already taken it up again: the same document would run twice at once."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as connection:
        row = await (await connection.execute("SELECT pg_try_advisory_lock(%s)", (SWEEP_LOCK,))).fetchone()
        mine = bool(row and row[0])
        try:
            yield mine
        finally:
            if mine:
                await connection.execute("SELECT pg_advisory_unlock(%s)", (SWEEP_LOCK,))
