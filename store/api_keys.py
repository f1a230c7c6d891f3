"""API keys: only their sha256 is stored. Hashing happens in app/auth; here we keep rows."""

from sqlalchemy import select, update

from store.conversation_models import ApiKey
from store.conversation_records import ApiKeyInfo
from store.engine import Database
from store.errors import NotFoundError, StoreError
from store.models import User, utcnow


def _info(row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(row.id, row.user_id, row.prefix, row.created_at, row.last_used_at, row.revoked_at is not None)


class ApiKeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, user_id: int, prefix: str, key_hash: str) -> ApiKeyInfo:
        with self.db.session() as session:
            row = ApiKey(user_id=user_id, prefix=prefix, key_hash=key_hash)
            session.add(row)
            session.flush()
            return _info(row)

    def owner_of(self, key_hash: str) -> str | None:
        """The name of the user holding the live key with this hash (and note its use), or None."""
        with self.db.session() as session:
            found = session.execute(
                select(ApiKey, User.name)
                .join(User, User.id == ApiKey.user_id)
                .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
            ).first()
            if found is None:
                return None
            row, name = found.tuple()
            key_id = row.id
        try:  # noting the use is best effort: a full disk must not turn a valid key away
            with self.db.session() as session:
                session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=utcnow()))
        except StoreError:
            pass
        return str(name)

    def of_user(self, user_id: int) -> list[ApiKeyInfo]:
        with self.db.session() as session:
            return [_info(r) for r in session.scalars(select(ApiKey).where(ApiKey.user_id == user_id))]

    def revoke(self, key_id: int, user_id: int) -> None:
        with self.db.session() as session:
            row = session.get(ApiKey, key_id)
            if row is None or row.user_id != user_id:
                raise NotFoundError(f"There is no API key with id {key_id}.")
            row.revoked_at = utcnow()
