"""Login sessions and login locks, kept in PostgreSQL so that they outlive Redis and every process sees them.

A session cookie names a row of `login_sessions` by its nonce. Each request checks that row together
with its account in one query: revoked (logout), expired, account disabled, or password changed since
the login all end the session. Redis holds nothing here: a Redis restart (it keeps nothing on disk)
cannot bring a logged-out cookie back or lift a lock, and a logout made on one server process is known
to all the others at their next request, also while Redis is down.

While PostgreSQL itself is unreachable, the last answer known to this process for a session stands, so
that an outage does not log everybody out (the pages stay open and show their banner; reads fail anyway).
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

import sqlalchemy as sa

from akig_data.engine import translated_errors
from akig_data.errors import DatabaseUnavailable
from akig_data.runtime import get_runtime

_LAST_KNOWN_MAX = 10_000


@dataclass(frozen=True)
class SessionUser:
    """The account behind a live session."""
    username: str
    role: str
    owner_ref: str | None
    agent_ref: str | None


_OPEN = """
WITH pruned AS (DELETE FROM login_sessions WHERE expires_at < now() - interval '1 day')
INSERT INTO login_sessions (nonce, user_id, expires_at, address)
SELECT :nonce, id, now() + make_interval(secs => :seconds), :address FROM users WHERE username = :username AND active
RETURNING nonce
"""

_CHECK = """
SELECT u.username, u.role, o.owner_ref, a.agent_ref
  FROM login_sessions s
  JOIN users u ON u.id = s.user_id
  LEFT JOIN owners o ON o.id = u.owner_id
  LEFT JOIN agents a ON a.id = u.agent_id
 WHERE s.nonce = :nonce AND u.username = :username
   AND s.revoked_at IS NULL AND s.expires_at > now()
   AND u.active AND u.password_changed_at <= s.opened_at + interval '1 second'
"""

_last_known: "OrderedDict[str, SessionUser | None]" = OrderedDict()
_lock = threading.Lock()


def new_nonce() -> str:
    return secrets.token_hex(12)


def open_session(username: str, seconds: int, address: str) -> str:
    """Record a new session for an active account; its nonce goes into the signed cookie. Expired
    sessions older than a day are deleted on the way (the table stays the size of a day's logins)."""
    nonce = new_nonce()
    with translated_errors(), get_runtime().engine.begin() as conn:
        done = conn.execute(sa.text(_OPEN), {"nonce": nonce, "username": username, "seconds": int(seconds),
                                             "address": address[:64]}).scalar()
    if done is None:
        raise LookupError(f"no active account {username!r}")
    return nonce


def active_user(username: str, nonce: str) -> SessionUser | None:
    """The account of a live session, or None (unknown nonce, another username, revoked, expired,
    account disabled or password changed after the login)."""
    try:
        with translated_errors(), get_runtime().engine.connect() as conn:
            row = conn.execute(sa.text(_CHECK), {"nonce": nonce, "username": username}).first()
    except DatabaseUnavailable:
        with _lock:
            if nonce not in _last_known:
                raise
            return _last_known[nonce]
    who = SessionUser(*row) if row else None
    with _lock:
        _last_known[nonce] = who
        _last_known.move_to_end(nonce)
        while len(_last_known) > _LAST_KNOWN_MAX:
            _last_known.popitem(last=False)
    return who


def revoke(nonce: str) -> bool:
    """End one session (logout). True when a live session was ended."""
    with translated_errors(), get_runtime().engine.begin() as conn:
        done = conn.execute(sa.text("UPDATE login_sessions SET revoked_at = now() "
                                    "WHERE nonce = :n AND revoked_at IS NULL"), {"n": nonce}).rowcount
    with _lock:
        if nonce in _last_known:
            _last_known[nonce] = None
    return bool(done)


# --- login locks --------------------------------------------------------------------------------

def lock(subject: str, seconds: int) -> None:
    """Lock a username or an address for `seconds` (a longer lock already set stands)."""
    with translated_errors(), get_runtime().engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO login_locks (subject, locked_until) VALUES (:s, now() + make_interval(secs => :t)) "
            "ON CONFLICT (subject) DO UPDATE SET locked_until = greatest(login_locks.locked_until, EXCLUDED.locked_until)"),
            {"s": subject[:200], "t": int(seconds)})


def locked_for(*subjects: str) -> float:
    """Seconds until the last of these subjects is unlocked (0: none is locked)."""
    with translated_errors(), get_runtime().engine.connect() as conn:
        left = conn.execute(sa.text(
            "SELECT greatest(0, extract(epoch FROM max(locked_until) - now())) FROM login_locks "
            "WHERE subject = ANY(:s) AND locked_until > now()"), {"s": [s[:200] for s in subjects]}).scalar()
    return float(left or 0.0)


def unlock(*subjects: str) -> None:
    with translated_errors(), get_runtime().engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM login_locks WHERE subject = ANY(:s)"), {"s": list(subjects)})
