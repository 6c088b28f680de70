"""Whose data a read may see.

Two things, kept apart on purpose:

* the **principal**: who is asking. Outside a logged-in session (CLI, notebooks, tests) there is none
  and every owner is visible. In the server, the dashboards register a resolver that returns the
  logged-in user as a `Principal`. A read the role may not make is refused; a read made for an owner is
  forced to his owner_ref, and asking for another owner's is refused like an unknown ref;
* the **SQL scope** of the transaction that runs the read's SQL (`akig.owner_ref`, see
  sql/008_row_level_security.sql): PostgreSQL's row-level security filters every table with it, so a
  query that forgot a filter still cannot return another owner's row.
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable, Iterator

ALL = "*"


@dataclass(frozen=True)
class Principal:
    """A logged-in user as the data layer sees him."""

    username: str
    role: str
    owner_ref: str | None = None
    agent_ref: str | None = None

    @property
    def owner_scope(self) -> str:
        """The owner_ref his reads are restricted to, or ALL."""
        return self.owner_ref if self.role == "owner" and self.owner_ref else ALL


_resolver: Callable[[], Principal | None] | None = None
_sql_scope: ContextVar[str] = ContextVar("akig_sql_scope", default=ALL)


def set_principal_resolver(resolver: Callable[[], Principal | None] | None) -> None:
    """Install (or remove, with None) the function telling whose session is reading."""
    global _resolver
    _resolver = resolver


def principal() -> Principal | None:
    """Who is reading: None outside a logged-in session (CLI, notebooks, tests)."""
    return _resolver() if _resolver is not None else None


@contextlib.contextmanager
def acting_as(who: Principal | None) -> Iterator[None]:
    """Run the enclosed reads as this principal (HTTP handlers, which have no Panel session)."""
    token = _acting.set(who)
    try:
        yield
    finally:
        _acting.reset(token)


_acting: ContextVar[Principal | None] = ContextVar("akig_acting", default=None)


def current() -> Principal | None:
    """The principal of an enclosing acting_as(), else the session's (resolver), else None."""
    return _acting.get() or principal()


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
