"""Whose data a read may see.

Two things, kept apart on purpose:

* the **principal**: who is asking. Outside a logged-in session (CLI, notebooks, tests) there is none
  and every owner is visible. In the server, the dashboards register a resolver that returns the
  logged-in owner's owner_ref, or "*" for the roles that see every owner. A read made for an owner is
  forced to his owner_ref, and asking for another owner's is refused like an unknown ref;
* the **SQL scope** of the transaction that runs the read's SQL (`akig.owner_ref`, see
  sql/008_row_level_security.sql): PostgreSQL's row-level security filters every table with it, so a
  query that forgot a filter still cannot return another owner's row.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Callable, Iterator

ALL = "*"

_resolver: Callable[[], str | None] | None = None
_sql_scope: ContextVar[str] = ContextVar("akig_sql_scope", default=ALL)


def set_principal_resolver(resolver: Callable[[], str | None] | None) -> None:
    """Install (or remove, with None) the function telling whose session is reading."""
    global _resolver
    _resolver = resolver


def principal() -> str | None:
    """None (no session), ALL, or the owner_ref the current session is restricted to."""
    return _resolver() if _resolver is not None else None


def sql_scope() -> str:
    return _sql_scope.get()


@contextlib.contextmanager
def scoped(value: str) -> Iterator[None]:
    """Run the enclosed reads' SQL with akig.owner_ref = value (an owner_ref, or ALL)."""
    token = _sql_scope.set(value or ALL)
    try:
        yield
    finally:
        _sql_scope.reset(token)
