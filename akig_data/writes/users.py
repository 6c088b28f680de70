"""The people who may log in: accounts, passwords (argon2id), TOTP second factor, API and device tokens.

Passwords are hashed with argon2-cffi's argon2id defaults (RFC 9106 low-memory profile); a hash made
with older parameters is upgraded at the next successful login. API tokens are random, shown once,
and stored as their SHA-256 (a token is 32 random bytes, so a fast hash is enough and lets the server
look one up by its hash). TOTP is RFC 6238 through pyotp, 30-second steps, one step of clock drift.
Device tokens are the field agents' phones' logins (`POST /api/agent/login`): one per phone, so that a
lost phone is cut off alone; they are stored like API tokens and accepted wherever an API token is.
Every change is written to the audit trail by the caller's `actor`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass

import pyotp
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from akig_data.writes import audit
from akig_data.engine import translated_errors
from akig_data.errors import InvalidParameter
from akig_data.runtime import get_runtime

ROLES = ("admin", "manager", "owner", "agent", "analyst", "ops")
TOTP_REQUIRED = frozenset({"admin", "manager"})
MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,39}$")
_hasher = PasswordHasher()
# Verifying against this hash when the username is unknown costs the same time as a real check, so
# response times do not tell which usernames exist.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    owner_ref: str | None
    agent_ref: str | None
    active: bool
    totp_confirmed: bool
    totp_secret: str | None
    password_changed_at: dt.datetime
    token_created_at: dt.datetime | None = None
    agent_name: str | None = None

    @property
    def needs_totp(self) -> bool:
        """A second factor is asked at login when one is enrolled, and is mandatory for these roles."""
        return self.totp_confirmed or self.role in TOTP_REQUIRED

    def public(self) -> dict:
        return {"username": self.username, "role": self.role, "owner_ref": self.owner_ref,
                "agent_ref": self.agent_ref, "active": self.active, "totp": self.totp_confirmed}


_SELECT = """
SELECT u.id, u.username, u.role, o.owner_ref, a.agent_ref, u.active, u.totp_confirmed, u.totp_secret,
       u.password_changed_at, u.token_created_at, a.full_name
  FROM users u LEFT JOIN owners o ON o.id = u.owner_id LEFT JOIN agents a ON a.id = u.agent_id
"""


def _row_to_user(row) -> User:
    return User(*row)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidParameter(f"Le mot de passe doit compter au moins {MIN_PASSWORD} caractères.")
    if password.isdigit() or password.lower() == password and password.isalpha():
        raise InvalidParameter("Le mot de passe doit mêler lettres et chiffres ou signes.")


def get(username: str, engine: sa.Engine | None = None) -> User | None:
    engine = engine or get_runtime().engine
    with translated_errors(), engine.connect() as conn:
        row = conn.execute(sa.text(_SELECT + " WHERE u.username = :u"), {"u": username}).first()
    return _row_to_user(row) if row else None


def list_users() -> list[User]:
    with translated_errors(), get_runtime().engine.connect() as conn:
        return [_row_to_user(r) for r in conn.execute(sa.text(_SELECT + " ORDER BY u.username"))]


def add(username: str, password: str, role: str, *, owner_ref: str | None = None, agent_ref: str | None = None,
        actor: str, address: str = "cli") -> User:
    """Create an account. An owner account names its owner, an agent account its agent."""
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise InvalidParameter("Identifiant invalide : 3 à 40 caractères a-z, 0-9, point, tiret ou souligné.")
    if role not in ROLES:
        raise InvalidParameter(f"Rôle inconnu : {role!r} (rôles : {', '.join(ROLES)}).")
    if (role == "owner") != (owner_ref is not None):
        raise InvalidParameter("Un compte propriétaire, et lui seul, indique son propriétaire (--owner).")
    if (role == "agent") != (agent_ref is not None):
        raise InvalidParameter("Un compte agent, et lui seul, indique son agent (--agent).")
    check_password_strength(password)
    engine = get_runtime().engine
    with translated_errors(), engine.begin() as conn:
        if conn.execute(sa.text("SELECT 1 FROM users WHERE username = :u"), {"u": username}).first():
            raise InvalidParameter(f"L'identifiant {username!r} existe déjà.")
        owner_id = agent_id = None
        if owner_ref is not None:
            owner_id = conn.execute(sa.text("SELECT id FROM owners WHERE owner_ref = :r"), {"r": owner_ref}).scalar()
            if owner_id is None:
                raise InvalidParameter(f"Propriétaire inconnu : {owner_ref!r}.")
        if agent_ref is not None:
            agent_id = conn.execute(sa.text("SELECT id FROM agents WHERE agent_ref = :r"), {"r": agent_ref}).scalar()
            if agent_id is None:
                raise InvalidParameter(f"Agent inconnu : {agent_ref!r}.")
        conn.execute(
            sa.text("INSERT INTO users (username, password_hash, role, owner_id, agent_id) "
                    "VALUES (:u, :h, :r, :o, :a)"),
            {"u": username, "h": _hasher.hash(password), "r": role, "o": owner_id, "a": agent_id},
        )
        audit.record(conn, actor=actor, action="user_add", target=username, address=address,
                     details={"role": role, "owner_ref": owner_ref, "agent_ref": agent_ref})
    return get(username)


def _require(conn, username: str) -> int:
    user_id = conn.execute(sa.text("SELECT id FROM users WHERE username = :u"), {"u": username}).scalar()
    if user_id is None:
        raise InvalidParameter(f"Utilisateur inconnu : {username!r}.")
    return user_id


def set_password(username: str, password: str, *, actor: str, address: str = "cli") -> None:
    """New password; sessions opened before it stop being valid (see dashboards.server.auth), and so do
    the phones' device tokens: a password is changed when it may have leaked, and a phone logged in with
    the old one must log in again (each revoked token is in the audit trail)."""
    check_password_strength(password)
    with translated_errors(), get_runtime().engine.begin() as conn:
        user_id = _require(conn, username)
        conn.execute(sa.text("UPDATE users SET password_hash = :h, password_changed_at = now() WHERE id = :i"),
                     {"h": _hasher.hash(password), "i": user_id})
        audit.record(conn, actor=actor, action="user_passwd", target=username, address=address)
        ended = conn.execute(sa.text(
            "UPDATE device_tokens SET revoked_at = now(), revoked_by = :actor "
            "WHERE user_id = :i AND revoked_at IS NULL RETURNING id"), {"i": user_id, "actor": actor}).scalars().all()
        for device_id in ended:
            audit.record(conn, actor=actor, action="device_revoke", target=username, address=address,
                         details={"device_id": device_id, "by": "password_change"})


def set_active(username: str, active: bool, *, actor: str, address: str = "cli") -> None:
    """Disable (or re-enable) an account: its sessions and token stop working at their next request."""
    with translated_errors(), get_runtime().engine.begin() as conn:
        user_id = _require(conn, username)
        conn.execute(sa.text("UPDATE users SET active = :a WHERE id = :i"), {"a": active, "i": user_id})
        audit.record(conn, actor=actor, action="user_enable" if active else "user_disable", target=username,
                     address=address)


def verify_password(username: str, password: str) -> User | None:
    """The active user with this password, or None (unknown, disabled and wrong look the same)."""
    engine = get_runtime().engine
    with translated_errors(), engine.connect() as conn:
        row = conn.execute(sa.text("SELECT id, password_hash, active FROM users WHERE username = :u"),
                           {"u": username.strip().lower()}).first()
    stored = row.password_hash if row else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None or not row.active:
        return None
    if _hasher.check_needs_rehash(stored):
        with translated_errors(), engine.begin() as conn:
            conn.execute(sa.text("UPDATE users SET password_hash = :h WHERE id = :i"),
                         {"h": _hasher.hash(password), "i": row.id})
    return get(username.strip().lower())


# --- second factor ------------------------------------------------------------------------------

def totp_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="AKIG")


def begin_totp(username: str, *, actor: str, address: str = "cli") -> str:
    """The secret to enrol for a user who has no confirmed second factor.

    An unconfirmed secret already stored is given again rather than replaced: a wrong code at the
    enrolment step must never change what is stored (an attacker who knows only the password could
    otherwise keep drawing keys). A confirmed factor is never replaced here: an administrator removes
    it first (`akig users totp USER --remove`), then the user enrols anew. The row is locked so that two
    logins at once do not hand out two different keys."""
    with translated_errors(), get_runtime().engine.begin() as conn:
        row = conn.execute(sa.text("SELECT id, totp_secret, totp_confirmed FROM users WHERE username = :u FOR UPDATE"),
                           {"u": username}).first()
        if row is None:
            raise InvalidParameter(f"Utilisateur inconnu : {username!r}.")
        if row.totp_confirmed:
            raise InvalidParameter(f"Un second facteur est déjà actif pour {username!r} : un administrateur doit "
                                   f"d'abord le retirer (akig users totp {username} --remove).")
        if row.totp_secret:
            return row.totp_secret
        secret = pyotp.random_base32()
        conn.execute(sa.text("UPDATE users SET totp_secret = :s WHERE id = :i AND NOT totp_confirmed"),
                     {"s": secret, "i": row.id})
        audit.record(conn, actor=actor, action="totp_begin", target=username, address=address)
    return secret


def check_totp(secret: str | None, code: str) -> bool:
    code = (code or "").strip().replace(" ", "")
    return bool(secret) and code.isdigit() and len(code) == 6 and pyotp.TOTP(secret).verify(code, valid_window=1)


def confirm_totp(username: str, code: str, *, actor: str, address: str = "cli") -> bool:
    """Confirm an enrolment in progress with a code from the new key. An account whose factor is
    already confirmed has nothing to confirm: False, and nothing changes."""
    user = get(username)
    if user is None or user.totp_confirmed or not check_totp(user.totp_secret, code):
        return False
    with translated_errors(), get_runtime().engine.begin() as conn:
        done = conn.execute(sa.text("UPDATE users SET totp_confirmed = true WHERE id = :i AND totp_secret = :s "
                                    "AND NOT totp_confirmed"), {"i": user.id, "s": user.totp_secret}).rowcount
        if not done:
            return False
        audit.record(conn, actor=actor, action="totp_confirm", target=username, address=address)
    return True


def remove_totp(username: str, *, actor: str, address: str = "cli") -> None:
    with translated_errors(), get_runtime().engine.begin() as conn:
        user_id = _require(conn, username)
        conn.execute(sa.text("UPDATE users SET totp_secret = NULL, totp_confirmed = false WHERE id = :i"),
                     {"i": user_id})
        audit.record(conn, actor=actor, action="totp_remove", target=username, address=address)


# --- API tokens ---------------------------------------------------------------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def rotate_token(username: str, *, actor: str, address: str = "cli") -> str:
    """A new API token for this user (the previous one stops working). Returned once, stored hashed."""
    token = "akig_" + secrets.token_urlsafe(32)
    with translated_errors(), get_runtime().engine.begin() as conn:
        user_id = _require(conn, username)
        conn.execute(sa.text("UPDATE users SET token_hash = :h, token_created_at = now() WHERE id = :i"),
                     {"h": _token_hash(token), "i": user_id})
        audit.record(conn, actor=actor, action="token_rotate", target=username, address=address)
    return token


def revoke_token(username: str, *, actor: str, address: str = "cli") -> None:
    with translated_errors(), get_runtime().engine.begin() as conn:
        user_id = _require(conn, username)
        conn.execute(sa.text("UPDATE users SET token_hash = NULL, token_created_at = NULL WHERE id = :i"),
                     {"i": user_id})
        audit.record(conn, actor=actor, action="token_revoke", target=username, address=address)


def user_for_token(token: str) -> User | None:
    """The active user holding this API token or this live device token, or None. Both are bearer
    tokens: every route that takes an API token takes a device token the same way."""
    if not token or len(token) > 200:
        return None
    if token.startswith(DEVICE_PREFIX):
        return _user_for_device_token(token)
    with translated_errors(), get_runtime().engine.connect() as conn:
        row = conn.execute(sa.text(_SELECT + " WHERE u.token_hash = :h AND u.active"),
                           {"h": _token_hash(token)}).first()
    return _row_to_user(row) if row else None


# --- device tokens ------------------------------------------------------------------------------

DEVICE_PREFIX = "akigd_"
MAX_LABEL = 80
# last_used_at is written at most once a minute per device: every request of a phone (a GPS batch every
# 30 seconds, the day's list) would otherwise be a write to PostgreSQL, for a date nobody needs finer.
_LAST_USED_STEP = "1 minute"


@dataclass(frozen=True)
class Device:
    """One phone's login: its id, its name as the phone gave it, and whether it still works."""

    id: int
    username: str
    label: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    revoked_by: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def clean_label(label) -> str:
    """The device's name as stored: text from the phone, so untrusted. Control characters (a terminal
    escape sequence in `akig users devices`) become spaces, runs of spaces one, and it is cut to 80
    characters rather than refused (a phone's model name must never stop an agent from logging in).
    Anything else, HTML included, stays as typed: it is plain text wherever it is shown."""
    if label is None:
        return ""
    if not isinstance(label, str):
        raise InvalidParameter("device : texte attendu (le nom de l'appareil).")
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in label)
    return " ".join(text.split())[:MAX_LABEL]


def issue_device_token(username: str, label=None, *, actor: str, address: str = "cli") -> tuple[str, int]:
    """A new device token for this user: (token, device id). Returned once, stored hashed; the user's
    other devices and his API token go on working."""
    token = DEVICE_PREFIX + secrets.token_urlsafe(32)
    label = clean_label(label)
    with translated_errors(), get_runtime().engine.begin() as conn:
        user_id = _require(conn, username)
        device_id = conn.execute(sa.text("INSERT INTO device_tokens (user_id, token_hash, label) "
                                         "VALUES (:u, :h, :l) RETURNING id"),
                                 {"u": user_id, "h": _token_hash(token), "l": label}).scalar_one()
        audit.record(conn, actor=actor, action="device_issue", target=username, address=address,
                     details={"device_id": device_id, "label": label})
    return token, int(device_id)


_DEVICES = """
SELECT d.id, u.username, d.label, d.created_at, d.last_used_at, d.revoked_at, d.revoked_by
  FROM device_tokens d JOIN users u ON u.id = d.user_id
"""


def list_devices(username: str) -> list[Device]:
    """The user's devices, oldest first, revoked ones included (the list says what became of each)."""
    with translated_errors(), get_runtime().engine.connect() as conn:
        user_id = _require(conn, username)
        rows = conn.execute(sa.text(_DEVICES + " WHERE d.user_id = :u ORDER BY d.created_at, d.id"), {"u": user_id})
        return [Device(*row) for row in rows]


def revoke_device(username: str, device_id, *, actor: str, address: str = "cli") -> Device:
    """Cut off one device of this user (a lost phone): its token stops working at its next request.
    An id that is not one of this user's devices is refused, and so is one already revoked (saying when
    and by whom), so that a typo never reports a success."""
    try:
        device_id = int(device_id)
    except (TypeError, ValueError):
        raise InvalidParameter(f"Numéro d'appareil invalide : {device_id!r}.") from None
    with translated_errors(), get_runtime().engine.begin() as conn:
        user_id = _require(conn, username)
        row = conn.execute(sa.text(_DEVICES + " WHERE d.id = :i AND d.user_id = :u FOR UPDATE OF d"),
                           {"i": device_id, "u": user_id}).first()
        if row is None:
            raise InvalidParameter(f"Appareil inconnu : {device_id} n'est pas un appareil de {username!r} "
                                   f"(akig users devices {username} les liste).")
        if row.revoked_at is not None:
            raise InvalidParameter(f"L'appareil {device_id} de {username!r} est déjà révoqué "
                                   f"(le {row.revoked_at:%Y-%m-%d %H:%M}, par {row.revoked_by}).")
        revoked = conn.execute(sa.text("UPDATE device_tokens SET revoked_at = now(), revoked_by = :by WHERE id = :i "
                                       "RETURNING revoked_at"), {"by": actor, "i": device_id}).scalar_one()
        audit.record(conn, actor=actor, action="device_revoke", target=username, address=address,
                     details={"device_id": device_id, "label": row.label})
    return Device(row.id, row.username, row.label, row.created_at, row.last_used_at, revoked, actor)


def revoke_device_token(token: str, *, address: str | None = None) -> Device | None:
    """The phone's own logout: revoke the live device token it holds. None when the token is not a
    live device token (unknown, revoked already, or its account disabled): nothing to log out."""
    if not token or not token.startswith(DEVICE_PREFIX) or len(token) > 200:
        return None
    with translated_errors(), get_runtime().engine.begin() as conn:
        row = conn.execute(sa.text(
            "SELECT d.id, u.username, u.role, d.label, d.created_at, d.last_used_at FROM device_tokens d"
            " JOIN users u ON u.id = d.user_id WHERE d.token_hash = :h AND d.revoked_at IS NULL AND u.active"
            " FOR UPDATE OF d"), {"h": _token_hash(token)}).first()
        if row is None:
            return None
        revoked = conn.execute(sa.text("UPDATE device_tokens SET revoked_at = now(), revoked_by = :by WHERE id = :i "
                                       "RETURNING revoked_at"), {"by": row.username, "i": row.id}).scalar_one()
        audit.record(conn, actor=row.username, role=row.role, action="device_revoke", target=row.username,
                     address=address, details={"device_id": row.id, "label": row.label, "by": "logout"})
    return Device(row.id, row.username, row.label, row.created_at, row.last_used_at, revoked, row.username)


_DEVICE_USER = """
WITH found AS (
    SELECT d.id, d.user_id, d.last_used_at
      FROM device_tokens d JOIN users du ON du.id = d.user_id
     WHERE d.token_hash = :h AND d.revoked_at IS NULL AND du.active
), touched AS (
    UPDATE device_tokens d SET last_used_at = now()
      FROM found f
     WHERE d.id = f.id AND (f.last_used_at IS NULL OR f.last_used_at < now() - CAST(:step AS interval))
)
""" + _SELECT + " WHERE u.id = (SELECT user_id FROM found)"


def _user_for_device_token(token: str) -> User | None:
    """The active user of a live device token, noting when the device was last used."""
    with translated_errors(), get_runtime().engine.begin() as conn:
        row = conn.execute(sa.text(_DEVICE_USER), {"h": _token_hash(token), "step": _LAST_USED_STEP}).first()
    return _row_to_user(row) if row else None
