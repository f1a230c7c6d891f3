"""People: sign-in with argon2-hashed passwords, users, groups and memberships (admins only).

accounts.sign_in("alice", "secret")        -> UserInfo, or None (unknown user, wrong password)
accounts.ensure_admin_password()           -> a one-time password to print, or None
accounts.add_user("bob", admin=False, groups=("hr",), actor=admin, password="...")
"""

from app.auth.passwords import check_strength, hash_password, needs_rehash, new_password, verify_password
from app.auth.throttle import SignInThrottle
from ingestion.service import KnowledgeBase
from store.errors import NotFoundError
from store.passwords import PasswordStore
from store.people import require_admin
from store.records import GroupInfo, UserInfo


class Accounts:
    def __init__(self, kb: KnowledgeBase, throttle: SignInThrottle | None = None) -> None:
        self.kb = kb
        self.passwords = PasswordStore(kb.db)
        self.throttle = throttle or SignInThrottle()

    def user(self, name: str) -> UserInfo | None:
        """The user called `name` as the database has them now (role and groups), or None."""
        try:
            return self.kb.actor(name) if name else None
        except NotFoundError:
            return None

    def sign_in(self, name: str, password: str, source: str = "local") -> UserInfo | None:
        """None for an unknown user or a wrong password, and for every attempt on a name that has
        just had too many wrong ones from the same `source` (the client's address: the throttle),
        so guessing stays slow while nobody elsewhere can lock the owner out."""
        stored = self.passwords.hash_of(name) if name else None
        key = f"{name}\n{source}"
        if self.throttle.blocked(key):
            verify_password(stored, password)  # the same work as an ordinary attempt: no timing tell
            return None
        if not verify_password(stored, password):
            self.throttle.failed(key)
            return None
        self.throttle.succeeded(key)
        assert stored is not None
        if needs_rehash(stored):  # argon2 parameters were raised since this hash was made
            self.passwords.set_hash(name, hash_password(password))
        return self.user(name)

    def session_fingerprint(self, name: str) -> str | None:
        """Changes whenever the user's password does (or the user goes): sessions signed in
        before it changed are over."""
        return self.passwords.hash_of(name) if name else None

    def has_password(self, name: str) -> bool:
        return self.passwords.hash_of(name) is not None

    def set_password(self, name: str, password: str, actor: UserInfo) -> None:
        """A user changes their own password; an admin anyone's."""
        if actor.name != name:
            require_admin(actor, "set another user's password")
        self.kb.actor(name)  # unknown names fail with a clear sentence
        self.passwords.set_hash(name, hash_password(password))

    def ensure_admin_password(self) -> str | None:
        """On a first start no administrator can sign in: give the shell's admin a random password
        and return it (to be printed once). None when some admin already has a password."""
        if self.passwords.admins_with_password():
            return None
        password = new_password()
        self.passwords.set_hash(self.kb.config.admin_name, hash_password(password))
        return password

    def add_user(
        self, name: str, *, admin: bool, groups: tuple[str, ...], actor: UserInfo, password: str | None = None
    ) -> UserInfo:
        if password is not None:
            check_strength(password)  # a weak password fails before the row exists
        user = self.kb.people.add_user(name.strip(), admin=admin, groups=groups, actor=actor)  # admins only
        if password is not None:
            self.passwords.set_hash(user.name, hash_password(password))
        return user

    def list_users(self, actor: UserInfo) -> list[UserInfo]:
        require_admin(actor, "list users")
        return self.kb.people.list_users()

    def list_groups(self, actor: UserInfo) -> list[GroupInfo]:
        """Every group for an admin; a member's own groups otherwise (whom they may share with)."""
        groups = self.kb.people.list_groups()
        return groups if actor.is_admin else [g for g in groups if g.name in actor.groups]

    def add_group(self, name: str, actor: UserInfo) -> GroupInfo:
        require_admin(actor, "create groups")
        return self.kb.people.add_group(name.strip(), actor)

    def add_member(self, group: str, user: str, actor: UserInfo) -> None:
        require_admin(actor, "change group membership")
        self.kb.people.add_member(group, user, actor)

    def remove_member(self, group: str, user: str, actor: UserInfo) -> None:
        require_admin(actor, "change group membership")
        self.kb.people.remove_member(group, user, actor)
