"""Users, groups, memberships and the audit log: the accounts job of the store, apart from
documents. Administrators only change them; every change is audited.

    people = People(db, admin_name="admin")
    people.add_group("hr", admin); people.add_user("alice", admin=False, groups=("hr",), actor=admin)
"""

from store import accounts, audit
from store.engine import Database
from store.errors import PermissionDeniedError
from store.records import AuditRecord, GroupInfo, UserInfo


def require_admin(actor: UserInfo, doing: str) -> None:
    if not actor.is_admin:
        raise PermissionDeniedError(f"Only an administrator may {doing}; {actor.name} is not one.")


class People:
    def __init__(self, db: Database, admin_name: str) -> None:
        self.db, self.admin_name = db, admin_name

    def actor(self, name: str | None) -> UserInfo:
        """The user a command acts as: the administrator unless a name is given."""
        with self.db.session() as session:
            return accounts.get_user(session, name or self.admin_name)

    def add_user(self, name: str, *, admin: bool, groups: tuple[str, ...], actor: UserInfo) -> UserInfo:
        require_admin(actor, "add users")
        with self.db.session() as session:
            user = accounts.add_user(session, name, admin=admin, groups=groups)
            audit.record(session, actor.name, "user.add", f"{name} ({user.role})")
            return user

    def list_users(self) -> list[UserInfo]:
        with self.db.session() as session:
            return accounts.list_users(session)

    def add_group(self, name: str, actor: UserInfo) -> GroupInfo:
        require_admin(actor, "create groups")
        with self.db.session() as session:
            group = accounts.add_group(session, name)
            audit.record(session, actor.name, "group.add", name)
            return group

    def list_groups(self) -> list[GroupInfo]:
        with self.db.session() as session:
            return accounts.list_groups(session)

    def add_member(self, group: str, user: str, actor: UserInfo) -> None:
        require_admin(actor, "change group membership")
        with self.db.session() as session:
            accounts.add_member(session, group, user)
            audit.record(session, actor.name, "group.add_member", f"{user} -> {group}")

    def remove_member(self, group: str, user: str, actor: UserInfo) -> None:
        require_admin(actor, "change group membership")
        with self.db.session() as session:
            accounts.remove_member(session, group, user)
            audit.record(session, actor.name, "group.remove_member", f"{user} -x {group}")

    def audit_log(self, limit: int = 100) -> list[AuditRecord]:
        with self.db.session() as session:
            return audit.recent(session, limit)
