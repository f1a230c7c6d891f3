"""Users, groups and memberships."""

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from store.errors import ConflictError, NotFoundError
from store.models import Group, Membership, Role, User
from store.records import GroupInfo, UserInfo


def _user_info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id, name=user.name, role=user.role, groups=tuple(sorted(g.name for g in user.groups))
    )


def _user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name).options(selectinload(User.groups)))
    if user is None:
        raise NotFoundError(f"There is no user named {name!r}; add one with `kb users add {name}`.")
    return user


def _group(session: Session, name: str) -> Group:
    group = session.scalar(select(Group).where(Group.name == name))
    if group is None:
        raise NotFoundError(f"There is no group named {name!r}; create it with `kb groups add {name}`.")
    return group


def groups_by_name(session: Session, names: list[str] | tuple[str, ...]) -> list[Group]:
    return [_group(session, name) for name in dict.fromkeys(names)]


def ensure_admin(session: Session, name: str) -> UserInfo:
    """The administrator the server's shell acts as; created on first use."""
    user = session.scalar(select(User).where(User.name == name).options(selectinload(User.groups)))
    if user is None:
        user = User(name=name, role=Role.ADMIN)
        session.add(user)
        session.flush()
    return _user_info(user)


def get_user(session: Session, name: str) -> UserInfo:
    return _user_info(_user(session, name))


def add_user(session: Session, name: str, *, admin: bool = False, groups: tuple[str, ...] = ()) -> UserInfo:
    if not name.strip():
        raise ConflictError("A user name cannot be empty.")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise ConflictError(f"A user named {name!r} already exists.")
    user = User(name=name, role=Role.ADMIN if admin else Role.MEMBER)
    user.groups = groups_by_name(session, groups)
    session.add(user)
    session.flush()
    return _user_info(user)


def list_users(session: Session) -> list[UserInfo]:
    users = session.scalars(select(User).options(selectinload(User.groups)).order_by(User.name))
    return [_user_info(u) for u in users]


def add_group(session: Session, name: str) -> GroupInfo:
    if not name.strip():
        raise ConflictError("A group name cannot be empty.")
    if session.scalar(select(Group.id).where(Group.name == name)) is not None:
        raise ConflictError(f"A group named {name!r} already exists.")
    group = Group(name=name)
    session.add(group)
    try:
        session.flush()
    except IntegrityError as error:  # a concurrent `groups add` won the race
        raise ConflictError(f"A group named {name!r} already exists.") from error
    return GroupInfo(id=group.id, name=group.name)


def list_groups(session: Session) -> list[GroupInfo]:
    groups = session.scalars(select(Group).options(selectinload(Group.members)).order_by(Group.name))
    return [GroupInfo(id=g.id, name=g.name, members=tuple(sorted(u.name for u in g.members))) for g in groups]


def add_member(session: Session, group: str, user: str) -> None:
    g, u = _group(session, group), _user(session, user)
    exists = session.get(Membership, (u.id, g.id))
    if exists is None:
        session.add(Membership(user_id=u.id, group_id=g.id))


def remove_member(session: Session, group: str, user: str) -> None:
    g, u = _group(session, group), _user(session, user)
    result = session.execute(
        delete(Membership).where(Membership.user_id == u.id, Membership.group_id == g.id)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFoundError(f"{user!r} is not a member of {group!r}.")
