"""Creating users, checking passwords and API tokens. Functions take the caller's session and never
commit: the CLI command or the request owns the transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from accounts.models import ApiToken, Role, User
from csmatch.db import utcnow
from providers.models import Provider

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "TOKEN_PREFIX",
    "AccountError",
    "authenticate",
    "create_user",
    "get_user_by_email",
    "hash_password",
    "issue_token",
    "normalise_email",
    "revoke_token",
    "user_for_token",
]

MIN_PASSWORD_LENGTH = 12
# scrypt with werkzeug's cost (N=2**15, r=8, p=1): memory-hard, about 64 ms per check.
PASSWORD_METHOD = "scrypt:32768:8:1"
TOKEN_PREFIX = "csm_"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Checked against when the e-mail is unknown, so a failed sign-in takes as long either way.
_DUMMY_HASH = generate_password_hash("not a real password", method=PASSWORD_METHOD)


class AccountError(ValueError):
    """A user or token that cannot be created; the message names the offending value."""


def normalise_email(email: str) -> str:
    """E-mail addresses are compared case-insensitively: store and look them up lower-case."""
    return email.strip().lower()


def hash_password(password: str) -> str:
    """Return the scrypt hash of ``password``; raise AccountError if it is shorter than 12 characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    return generate_password_hash(password, method=PASSWORD_METHOD)


def get_user_by_email(session: Session, email: str) -> User | None:
    """Return the user with that e-mail (any case), or None if there is none."""
    return session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def create_user(
    session: Session,
    email: str,
    role: Role | str,
    *,
    password: str,
    provider_id: str | None = None,
    password_hash: str | None = None,
) -> User:
    """Add a user to the session and return it.

    ``password_hash`` replaces hashing ``password`` (tests reuse one hash; hashing is slow on purpose).

    :raise AccountError: if the e-mail is malformed or taken, the role unknown, the provider missing
        for a provider user (or given for plan staff), or the password too short.
    """
    email = normalise_email(email)
    if not _EMAIL.match(email):
        raise AccountError(f"not an e-mail address: {email!r}")
    try:
        role = Role(role)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise AccountError(f"unknown role {role!r}; choose one of {choices}") from None
    if role is Role.PROVIDER:
        if not provider_id:
            raise AccountError("a provider user needs --provider: the organisation it works for")
        if session.get(Provider, provider_id) is None:
            raise AccountError(f"no provider with id {provider_id!r}")
    elif provider_id:
        raise AccountError(f"only provider users belong to a provider; {role.value!r} is plan staff")
    if get_user_by_email(session, email) is not None:
        raise AccountError(f"a user with e-mail {email!r} already exists")
    user = User(
        email=email, role=role, provider_id=provider_id,
        password_hash=password_hash or hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """Replace the user's password (hashing it); raise AccountError if it is too short."""
    user.password_hash = hash_password(password)


def authenticate(session: Session, email: str, password: str) -> User | None:
    """Return the active user with that e-mail and password, or None.

    Unknown e-mail, wrong password and inactive user all return None after the same hashing work,
    so the answer's timing does not tell which e-mails exist.
    """
    user = get_user_by_email(session, email)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    user.last_login_at = utcnow()
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, name: str = "") -> tuple[ApiToken, str]:
    """Create an API token for ``user``; return it and the plain token, which is shown only once."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, token_hash=_digest(plain), prefix=plain[:12], name=name)
    session.add(token)
    session.flush()
    return token, plain


def user_for_token(session: Session, plain: str, now: dt.datetime | None = None) -> User | None:
    """Return the active user owning the unrevoked token ``plain`` (and note its use), or None."""
    if not plain.startswith(TOKEN_PREFIX):
        return None
    digest = _digest(plain)
    token = session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == digest))
    if token is None or token.revoked or not hmac.compare_digest(token.token_hash, digest):
        return None
    if not token.user.active:
        return None
    token.last_used_at = now or utcnow()
    return token.user


def revoke_token(token: ApiToken, now: dt.datetime | None = None) -> None:
    """Revoke ``token``; it stops working at once. Revoking twice keeps the first time."""
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
