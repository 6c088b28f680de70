"""One demo account per role (`akig demo seed`), with random passwords printed once.

The owner account stands for the first owner, the agent account for the first agent. Admin and
manager are asked to enrol a TOTP second factor at their first login (their role requires one).
"""

from __future__ import annotations

import secrets
import string

import sqlalchemy as sa

from akig_data.writes import users
from akig_data.runtime import get_runtime

DEMO_USERNAMES = {role: f"demo-{role}" for role in users.ROLES}


def _password() -> str:
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(14))
        if any(c.isdigit() for c in candidate) and any(c.isalpha() for c in candidate):
            return candidate


def create_demo_users(actor: str) -> list[tuple[str, str, str]]:
    """Create the demo accounts that do not exist yet; (username, role, password) of each new one."""
    with get_runtime().engine.connect() as conn:
        owner_ref = conn.execute(sa.text("SELECT owner_ref FROM owners ORDER BY owner_ref LIMIT 1")).scalar()
        agent_ref = conn.execute(sa.text("SELECT agent_ref FROM agents ORDER BY agent_ref LIMIT 1")).scalar()
    created = []
    for role, username in DEMO_USERNAMES.items():
        if users.get(username) is not None:
            continue
        if (role == "owner" and owner_ref is None) or (role == "agent" and agent_ref is None):
            continue
        password = _password()
        users.add(username, password, role, owner_ref=owner_ref if role == "owner" else None,
                  agent_ref=agent_ref if role == "agent" else None, actor=actor)
        created.append((username, role, password))
    return created
