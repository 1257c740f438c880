"""Accounts, regions and API tokens."""
from __future__ import annotations

import hashlib
import secrets
import time
from datetime import timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..errors import AuthenticationError, ConflictError, NotFoundError, RequestError
from ..organisations import ORGANISATIONS
from ..roles import ROLES
from ..store.models import ApiToken, Region, User, UserRegion, UserRole
from .env import Env
from .principal import Principal

LANGUAGES = ("fi", "sv", "en")
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password")  # equalises timing for unknown user names


def _check_roles(roles: list[str]) -> None:
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise RequestError(f"unknown role(s) {', '.join(unknown)}; roles: {', '.join(ROLES)}")


def add_region(env: Env, key: str, name: str) -> None:
    with env.uow() as uow:
        if uow.session.get(Region, key) is not None:
            raise ConflictError(f"region {key!r} exists already")
        uow.session.add(Region(key=key, name=name))
        uow.commit()


def list_regions(env: Env) -> list[dict]:
    with env.uow() as uow:
        return [{"key": r.key, "name": r.name} for r in uow.session.scalars(sa.select(Region).order_by(Region.key))]


def add_user(env: Env, username: str, password: str, roles: list[str], regions: list[str],
             display_name: str = "", email: str | None = None, organisation: str | None = None) -> None:
    _check_roles(roles)
    if organisation is not None and organisation not in ORGANISATIONS:
        raise RequestError(f"unknown organisation {organisation!r}; known: {', '.join(ORGANISATIONS)}")
    if len(password) < 8:
        raise RequestError("the password must be at least 8 characters")
    with env.uow() as uow:
        s = uow.session
        missing = [r for r in regions if s.get(Region, r) is None]
        if missing:
            raise NotFoundError(f"unknown region(s) {', '.join(missing)}; add them with 'region add'")
        if s.scalar(sa.select(User.id).where(User.username == username)) is not None:
            raise ConflictError(f"user {username!r} exists already")
        s.add(User(username=username, display_name=display_name or username, email=email, organisation=organisation,
                   password_hash=_hasher.hash(password), active=True, created_at=env.now(),
                   roles=[UserRole(role=r) for r in dict.fromkeys(roles)],
                   regions=[UserRegion(region_key=g) for g in dict.fromkeys(regions)]))
        uow.commit()


def principal_of(user: User) -> Principal:
    return Principal(user.username, frozenset(user.role_keys), frozenset(user.region_keys))


LOCK_AFTER = 5          # failed sign-ins in a row
LOCK_MINUTES = (1, 5, 15, 60)  # growing back-off for every further run of failures


def authenticate(env: Env, username: str, password: str) -> Principal:
    """Check the password; after repeated failures the account waits before the next try."""
    now = env.now()
    with env.uow() as uow:
        user = uow.session.scalar(sa.select(User).where(User.username == username))
        if user is not None and user.locked_until is not None and user.locked_until > now:
            minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
            raise AuthenticationError(f"too many failed sign-ins; try again in {minutes} min")
        try:
            _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
            ok = user is not None and user.active
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok:
            if user is not None:
                user.failed_logins += 1
                if user.failed_logins % LOCK_AFTER == 0:
                    step = min(user.failed_logins // LOCK_AFTER - 1, len(LOCK_MINUTES) - 1)
                    user.locked_until = now + timedelta(minutes=LOCK_MINUTES[step])
                uow.commit()
            raise AuthenticationError("wrong user name or password")
        if user.failed_logins or user.locked_until:
            user.failed_logins, user.locked_until = 0, None
            uow.commit()
        return principal_of(user)


def set_roles(env: Env, username: str, roles: list[str] | None = None, regions: list[str] | None = None) -> None:
    if roles is not None:
        _check_roles(roles)
    with env.uow() as uow:
        s = uow.session
        user = s.scalar(sa.select(User).where(User.username == username))
        if user is None:
            raise NotFoundError(f"no user {username!r}")
        if roles is not None:
            user.roles = [UserRole(role=r) for r in dict.fromkeys(roles)]
        if regions is not None:
            missing = [r for r in regions if s.get(Region, r) is None]
            if missing:
                raise NotFoundError(f"unknown region(s) {', '.join(missing)}")
            user.regions = [UserRegion(region_key=g) for g in dict.fromkeys(regions)]
        uow.commit()
    forget_principal(username)


def set_active(env: Env, username: str, active: bool) -> None:
    with env.uow() as uow:
        user = uow.session.scalar(sa.select(User).where(User.username == username))
        if user is None:
            raise NotFoundError(f"no user {username!r}")
        user.active = active
        if active:
            user.failed_logins, user.locked_until = 0, None
        uow.commit()
    forget_principal(username)


def set_language(env: Env, username: str, language: str) -> None:
    if language not in LANGUAGES:
        raise RequestError(f"language must be one of {', '.join(LANGUAGES)}")
    with env.uow() as uow:
        user = uow.session.scalar(sa.select(User).where(User.username == username))
        if user is None:
            raise NotFoundError(f"no user {username!r}")
        user.language = language
        uow.commit()


def language_of(env: Env, username: str) -> str:
    with env.uow() as uow:
        return uow.session.scalar(sa.select(User.language).where(User.username == username)) or "fi"


def list_users(env: Env) -> list[dict]:
    with env.uow() as uow:
        return [{"username": u.username, "display_name": u.display_name, "roles": sorted(u.role_keys),
                 "regions": sorted(u.region_keys), "organisation": u.organisation, "active": u.active,
                 "locked": bool(u.locked_until and u.locked_until > env.now())}
                for u in uow.session.scalars(sa.select(User).order_by(User.username))]


def colleagues(env: Env, role: str, region: str) -> list[str]:
    """Active users who hold ``role`` in ``region`` (reassignment targets)."""
    with env.uow() as uow:
        return list(uow.session.scalars(
            sa.select(User.username).join(UserRole, UserRole.user_id == User.id)
            .join(UserRegion, UserRegion.user_id == User.id)
            .where(UserRole.role == role, UserRegion.region_key == region, User.active.is_(True))
            .order_by(User.username)))


def principal_for(env: Env, username: str) -> Principal | None:
    """The active user's roles and regions, in one query (this runs on every web request)."""
    with env.uow() as uow:
        rows = uow.session.execute(
            sa.select(UserRole.role, UserRegion.region_key).select_from(User)
            .outerjoin(UserRole, UserRole.user_id == User.id).outerjoin(UserRegion, UserRegion.user_id == User.id)
            .where(User.username == username, User.active.is_(True))).all()
    if not rows:
        return None
    return Principal(username, frozenset(r.role for r in rows if r.role),
                     frozenset(r.region_key for r in rows if r.region_key))


PRINCIPAL_TTL_SECONDS = 5.0
_principals: dict[tuple[int, str], tuple[float, Principal | None]] = {}


def cached_principal(env: Env, username: str) -> Principal | None:
    """``principal_for`` remembered for a few seconds per process (it runs on every request).

    A change of roles or a disabled account takes effect within ``PRINCIPAL_TTL_SECONDS``
    everywhere, and at once in the process that made the change.
    """
    key = (id(env), username)
    hit = _principals.get(key)
    now = time.monotonic()
    if hit is not None and hit[0] > now:
        return hit[1]
    principal = principal_for(env, username)
    _principals[key] = (now + PRINCIPAL_TTL_SECONDS, principal)
    return principal


def forget_principal(username: str) -> None:
    for key in [k for k in _principals if k[1] == username]:
        _principals.pop(key, None)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(env: Env, username: str) -> str:
    """A new bearer token for ``username``; only its hash is stored."""
    token = "pk_" + secrets.token_urlsafe(32)
    with env.uow() as uow:
        user = uow.session.scalar(sa.select(User).where(User.username == username))
        if user is None:
            raise NotFoundError(f"no user {username!r}")
        uow.session.add(ApiToken(user_id=user.id, token_hash=_digest(token), created_at=env.now()))
        uow.commit()
    return token


def principal_for_token(env: Env, token: str) -> Principal | None:
    with env.uow() as uow:
        user = uow.session.scalar(sa.select(User).join(ApiToken, ApiToken.user_id == User.id).where(
            ApiToken.token_hash == _digest(token), ApiToken.revoked.is_(False)))
        return principal_of(user) if user is not None and user.active else None
