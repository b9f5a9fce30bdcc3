"""Accounts: registration, authentication, freezing, member preferences."""
import re
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, inspect, or_, select
from sqlalchemy.exc import IntegrityError

from ..errors import AccountExists, AccountFrozen, BadCredentials, DomainError, NotFound
from ..extensions import db
from ..points.ledger import open_account
from ..settings import current as current_settings
from . import session_row
from .models import Role, User

_hashers: dict[bool, tuple[PasswordHasher, str]] = {}


def _hasher() -> PasswordHasher:
    return _hasher_and_dummy()[0]


def _hasher_and_dummy() -> tuple[PasswordHasher, str]:
    """Argon2id with its recommended parameters; the test suite asks for cheap ones.

    The dummy is a real hash to verify against when the login name is unknown, so that a
    miss takes as long as a wrong password and timing doesn't reveal which accounts exist.
    """
    fast = current_settings().password_hash_fast
    if fast not in _hashers:
        hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1) if fast else PasswordHasher()
        _hashers[fast] = (hasher, hasher.hash("not-a-real-password"))
    return _hashers[fast]
MOBILE = re.compile(r"^\+?[0-9]{8,15}$")
MIN_PASSWORD = 10


class InvalidIdentifier(DomainError):
    message = _l("Enter an email address or a mobile number (8 to 15 digits).")
    field = "identifier"


class WeakPassword(DomainError):
    message = _l("Use at least %(n)s characters, mixing letters and digits.", n=MIN_PASSWORD)
    field = "password"


def normalise_identifier(raw: str) -> tuple[str | None, str | None]:
    """Return (email, mobile) with exactly one set, or raise InvalidIdentifier."""
    value = (raw or "").strip()
    if "@" in value:
        try:
            return validate_email(value, check_deliverability=False).normalized.lower(), None
        except EmailNotValidError as exc:
            raise InvalidIdentifier() from exc
    mobile = re.sub(r"[\s\-()]", "", value)
    if not MOBILE.match(mobile):
        raise InvalidIdentifier()
    return None, mobile


def check_password_strength(password: str) -> None:
    if (len(password or "") < MIN_PASSWORD or not re.search(r"[A-Za-z]", password)
            or not re.search(r"[0-9]", password)):
        raise WeakPassword()


def _new_member_code() -> str:
    return "M" + "".join(secrets.choice("23456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(8))


def register(identifier: str, password: str, display_name: str, *, now: datetime,
             role: str = Role.MEMBER.value, locale: str | None = None) -> User:
    """Create an account and its points account. Refuses duplicates and weak passwords."""
    email, mobile = normalise_identifier(identifier)
    check_password_strength(password)
    if find_by_identifier(identifier) is not None:
        raise AccountExists()
    user = User(email=email, mobile=mobile, password_hash=_hasher().hash(password),
                display_name=display_name.strip()[:80], member_code=_new_member_code(),
                role=role, locale=locale, created_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(user)
            db.session.flush()
    except IntegrityError as exc:  # a concurrent registration with the same login won
        raise AccountExists() from exc
    if role == Role.MEMBER.value:
        open_account(user.id, now)
    return user


def login_name(identifier: str) -> str:
    """What was typed at login in its canonical form ("138 0000 1234" is "13800001234"), or
    as typed (lower case) when it is neither an email nor a mobile number."""
    try:
        email, mobile = normalise_identifier(identifier)
    except InvalidIdentifier:
        return (identifier or "").strip().lower()[:254]
    return email or mobile or ""


def find_by_identifier(identifier: str) -> User | None:
    try:
        email, mobile = normalise_identifier(identifier)
    except InvalidIdentifier:
        return None
    return db.session.scalar(select(User).where(or_(
        User.email == email if email else False, User.mobile == mobile if mobile else False)))


def authenticate(identifier: str, password: str) -> User:
    """Return the user for a correct login name and password.

    Raises BadCredentials with one message for an unknown name and a wrong password
    alike, and AccountFrozen (with the reason) only after the password was right.
    """
    user = find_by_identifier(identifier)
    hasher, dummy = _hasher_and_dummy()
    try:
        hasher.verify(user.password_hash if user else dummy, password or "")
    except (VerificationError, InvalidHashError):
        raise BadCredentials() from None
    if user is None:
        raise BadCredentials()
    if user.is_frozen:
        raise AccountFrozen(user.frozen_reason or "")
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user


def freeze(user_id: int, reason: str, *, now: datetime) -> User:
    """Freeze an account and end its sessions (they stay ended after an unfreeze)."""
    user = _get(user_id)
    if not reason.strip():
        raise DomainError(_l("Give a reason; the member will see it."), field="reason")
    user.frozen_at, user.frozen_reason = now, reason.strip()[:255]
    _end_sessions(user)
    return user


def unfreeze(user_id: int) -> User:
    user = _get(user_id)
    user.frozen_at = user.frozen_reason = None
    return user


def end_sessions(user_id: int) -> None:
    """End every session and remember-me cookie of the account, on every device (logout)."""
    _end_sessions(_get(user_id))


def _end_sessions(user: User) -> None:
    # One UPDATE (session_version + 1), so concurrent ends can't both write the same number.
    user.session_version = User.session_version + 1
    db.session.flush()


def user_for_session(alternative_id: str) -> User | None:
    """The user a session or remember-me cookie names ("<id>:<session version>"), or None
    when the cookie was issued before the account's sessions were ended, or it is frozen.
    (A bare "<id>" from before session versions is refused: that member logs in again.)"""
    user_id, _, version = (alternative_id or "").partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    user = _session_user(int(user_id))
    if user is None or user.is_frozen or user.session_version != int(version):
        return None
    return user


# Every request of a logged-in member reads their row: a statement built once (bound
# parameter) instead of Session.get's per call, which cost more CPU than running it.
_USER_BY_ID = select(User).where(User.id == bindparam("user_id"))


def _session_user(user_id: int) -> User | None:
    session = db.session()
    if inspect(User).identity_key_from_primary_key((user_id,)) in session.identity_map:
        return session.get(User, user_id)  # already loaded in this session: no statement, as before
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":  # the raw prepared read: a fraction of the ORM's CPU
        return session_row.load(session, user_id, dialect)
    return session.execute(_USER_BY_ID, {"user_id": user_id}).scalar_one_or_none()


def set_locale(user_id: int, locale: str) -> None:
    _get(user_id).locale = locale


def pin_target(member_id: int, item_id: int | None) -> User:
    user = _get(member_id)
    user.target_item_id = item_id
    return user


def _get(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user


# --- password reset -------------------------------------------------------------------------
# The request answers the same way whether or not the login exists (no account enumeration);
# the link is signed, lasts an hour and works once: it carries a fingerprint of the current
# password hash, which the reset changes.
RESET_MAX_AGE = 3600


class ResetLinkInvalid(DomainError):
    message = _l("This link has expired or was already used. Ask for a new one.")


def _reset_serializer():
    from itsdangerous import URLSafeTimedSerializer
    return URLSafeTimedSerializer(current_settings().secret_key, salt="password-reset")


def _fingerprint(user: User) -> str:
    import hashlib
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def request_password_reset(identifier: str) -> tuple[User, str] | None:
    """A reset token for the account with this email, or None (unknown login, or a mobile-
    only account we can't email). Callers must answer the same way in both cases."""
    user = find_by_identifier(identifier)
    token = _reset_serializer().dumps({"u": user.id if user else 0,
                                       "f": _fingerprint(user) if user else ""})  # same work either way
    if user is None or not user.email or user.is_frozen:
        return None
    return user, token


def check_reset_token(token: str) -> User:
    """The account a valid, unused reset token is for. Raises ResetLinkInvalid."""
    from itsdangerous import BadSignature
    try:
        data = _reset_serializer().loads(token, max_age=RESET_MAX_AGE)
    except BadSignature:  # also SignatureExpired
        raise ResetLinkInvalid() from None
    user = db.session.get(User, data.get("u") or 0)
    if user is None or data.get("f") != _fingerprint(user):
        raise ResetLinkInvalid()
    return user


def reset_password(token: str, password: str) -> User:
    """Set a new password from a valid, unused reset token. Raises ResetLinkInvalid or WeakPassword."""
    user = check_reset_token(token)
    check_password_strength(password)
    set_password(user, password)
    return user


def set_password(user: User, password: str) -> None:
    """Store a new password and end the account's sessions: a cookie taken before the
    change (a shared computer, a stolen phone) stops working with the old password."""
    user.password_hash = _hasher().hash(password)
    _end_sessions(user)
