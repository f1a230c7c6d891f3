"""Sign-in password hashes on the users table. Hashing happens in app/auth; here we keep rows."""

from sqlalchemy import func, select

from store.engine import Database
from store.errors import NotFoundError
from store.models import Role, User


class PasswordStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def hash_of(self, name: str) -> str | None:
        """The stored hash of `name`'s password; None for an unknown user or one without a password."""
        with self.db.session() as session:
            return session.scalar(select(User.password_hash).where(User.name == name))

    def set_hash(self, name: str, password_hash: str | None) -> None:
        with self.db.session() as session:
            user = session.scalar(select(User).where(User.name == name))
            if user is None:
                raise NotFoundError(f"There is no user named {name!r}; add one with `kb users add {name}`.")
            user.password_hash = password_hash

    def admins_with_password(self) -> int:
        with self.db.session() as session:
            query = select(func.count(User.id)).where(User.role == Role.ADMIN, User.password_hash.is_not(None))
            return int(session.scalar(query) or 0)
