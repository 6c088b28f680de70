"""Errors the data layer raises on purpose, each with a message fit to show a user."""


class AkigError(Exception):
    """Base of every error the data layer raises knowingly."""


class InvalidParameter(AkigError, ValueError):
    """A read or a command was called with a value it cannot accept (unknown owner, bad date ...)."""


class AccessDenied(AkigError, PermissionError):
    """The logged-in user's role may not do this (roles.py)."""


class DatabaseUnavailable(AkigError):
    """PostgreSQL cannot be reached; callers show a message and try again later."""

    def __init__(self, detail: str = ""):
        self.detail = detail
        super().__init__("La base de données est injoignable pour le moment." + (f" ({detail})" if detail else ""))
