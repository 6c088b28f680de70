"""The registry of reads: each read is declared once, next to the call of its SQL function (in `sql/`),
with its parameters, the tables it depends on and how long its answer lives; the CLI (`akig query`),
the apps and the notebooks find it here by name.

    @read(depends_on=LEDGER_TABLES, ttl=900)
    def arrears_by_site(as_of: date = TODAY, owner_ref: str | None = None) -> pa.Table:
        "Arrears per site at as_of."
        return sql_table("SELECT * FROM arrears_by_site(CAST(:as_of AS date), CAST(:owner_ref AS text))", ...)

The decorated function is called with keyword (or positional) arguments, checks and normalises them
(strings from a URL or the command line become dates and integers, defaults such as "today" are
resolved before the cache key is built), goes through the memo and returns a pandas DataFrame.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import time
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd
import pyarrow as pa

from akig_data.observe import metrics
from akig_data.clock import TZ, today  # noqa: F401  (TZ: the reads' zone)
from akig_data.engine import fetch_arrow
from akig_data.errors import AccessDenied, InvalidParameter
from akig_data.upkeep.dues_horizon import ensure_dues_horizon
from akig_data.access import roles
from akig_data.access.scope import ALL, current, scoped, sql_scope
from akig_data.runtime import get_runtime

class DynamicDefault:
    """A default computed at call time (and resolved before the cache key is built)."""

    def __init__(self, label: str, resolve: Callable[[], Any]):
        self.label = label
        self.resolve = resolve

    def __repr__(self) -> str:
        return self.label


TODAY = DynamicDefault("today", today)
MONTH_START = DynamicDefault("first day of this month", lambda: today().replace(day=1))

_TRUE = {"1", "true", "yes", "oui", "on"}
_FALSE = {"0", "false", "no", "non", "off"}
MIN_DATE = dt.date(1990, 1, 1)


@dataclass(frozen=True)
class Param:
    name: str
    type: type
    default: Any
    optional: bool  # None is an accepted value

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty

    @property
    def type_name(self) -> str:
        return {dt.date: "date", int: "int", float: "float", str: "text", bool: "bool"}[self.type]

    def describe_default(self) -> str:
        if self.required:
            return "required"
        return f"default {self.default!r}" if not isinstance(self.default, DynamicDefault) else f"default {self.default}"

    def _within_range(self, day: dt.date) -> dt.date:
        """Dates from 1990 to two years ahead: a date in year 7400 would make PostgreSQL compute the dues
        of every lease until then (found by schemathesis)."""
        latest = today() + dt.timedelta(days=731)
        if not MIN_DATE <= day <= latest:
            raise InvalidParameter(f"{self.name} must be between {MIN_DATE} and {latest} (got {day})")
        return day

    def coerce(self, value: Any) -> Any:
        """Turn a value (maybe a string from a URL or the CLI) into this parameter's type, or refuse it."""
        if value is None or (isinstance(value, str) and value.strip() == "" and self.optional):
            if self.optional:
                return None
            raise InvalidParameter(f"{self.name} is required")
        try:
            if self.type is dt.date:
                if isinstance(value, dt.datetime):
                    day = value.astimezone(TZ).date() if value.tzinfo else value.date()
                elif isinstance(value, dt.date):
                    day = value
                elif isinstance(value, str):
                    day = dt.date.fromisoformat(value.strip())
                else:
                    raise TypeError
                return self._within_range(day)
            if self.type is bool:
                if isinstance(value, bool):
                    return value
                text = str(value).strip().lower()
                if text in _TRUE:
                    return True
                if text in _FALSE:
                    return False
                raise ValueError
            if self.type is int:
                if isinstance(value, bool):
                    raise TypeError
                if isinstance(value, int):
                    return value
                if isinstance(value, float) and value.is_integer():
                    return int(value)
                return int(str(value).strip())
            if self.type is float:
                result = float(value)
                if result != result:  # NaN
                    raise ValueError
                return result
            if self.type is str:
                text = str(value)
                if len(text) > 10_000:
                    raise InvalidParameter(f"{self.name} is too long ({len(text)} characters, at most 10000)")
                return text
        except InvalidParameter:
            raise
        except (TypeError, ValueError):
            pass
        raise InvalidParameter(f"{self.name} must be a {self.type_name} (got {value!r})")


@dataclass(frozen=True)
class ReadSpec:
    name: str
    func: Callable[..., pa.Table]
    params: tuple[Param, ...]
    depends_on: tuple[str, ...]
    ttl: int | None
    version: int
    doc: str

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise InvalidParameter(
            f"{self.name} has no parameter {name!r} (parameters: {', '.join(p.name for p in self.params) or 'none'})"
        )

    def bind(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Check and normalise arguments: every parameter present, typed, defaults resolved."""
        unknown = [k for k in kwargs if k not in {p.name for p in self.params}]
        if unknown:
            self.param(unknown[0])  # raises with the list of valid names
        bound: dict[str, Any] = {}
        for p in self.params:
            if p.name in kwargs:
                bound[p.name] = p.coerce(kwargs[p.name])
            elif p.required:
                raise InvalidParameter(f"{self.name}: {p.name} is required")
            elif isinstance(p.default, DynamicDefault):
                bound[p.name] = p.default.resolve()
            else:
                bound[p.name] = p.default
        return bound


REGISTRY: dict[str, ReadSpec] = {}

_ARROW_TO_PANDAS = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


def table_to_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas with nullable integers (money stays integer even with missing values)."""
    return table.to_pandas(types_mapper=_ARROW_TO_PANDAS.get)


def _param_type(annotation: Any) -> tuple[type, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], True
    return annotation, False


def read(*, depends_on: tuple[str, ...], ttl: int | None = None, version: int = 1):
    """Declare a read: register it and wrap it with argument checks, the memo and metrics."""

    def decorate(func: Callable[..., pa.Table]) -> Callable[..., pd.DataFrame]:
        signature = inspect.signature(func)
        hints = typing.get_type_hints(func)
        params = []
        for p in signature.parameters.values():
            ptype, optional = _param_type(hints[p.name])
            params.append(Param(p.name, ptype, p.default, optional or p.default is None))
        spec = ReadSpec(
            name=func.__name__,
            func=func,
            params=tuple(params),
            depends_on=tuple(depends_on),
            ttl=ttl,
            version=version,
            doc=inspect.getdoc(func) or "",
        )
        if spec.name in REGISTRY:
            raise RuntimeError(f"read {spec.name} is declared twice")
        REGISTRY[spec.name] = spec

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> pd.DataFrame:
            if args:
                names = [p.name for p in spec.params]
                if len(args) > len(names):
                    raise InvalidParameter(f"{spec.name} takes at most {len(names)} arguments")
                kwargs = {**dict(zip(names, args)), **kwargs}
            return table_to_frame(execute(spec, kwargs))

        run.spec = spec  # type: ignore[attr-defined]
        return run

    return decorate


def execute(spec: ReadSpec, kwargs: dict[str, Any]) -> pa.Table:
    """Run a read through the memo; return its Arrow table."""
    args = spec.bind(kwargs)
    runtime = get_runtime()
    _restrict_to_principal(spec, args)
    scope = str(args.get("owner_ref") or ALL)
    with scoped(scope):
        if args.get("owner_ref") is not None and spec.name != "owners":
            _check_owner(args["owner_ref"])
        if args.get("site_ref") is not None and spec.name != "sites":
            _check_site(args["site_ref"], args.get("owner_ref"))
        if args.get("tenant_ref") is not None:
            _check_tenant(args["tenant_ref"], args.get("owner_ref"))
        dates = [v for v in args.values() if isinstance(v, dt.date)]
        if dates:
            ensure_dues_horizon(runtime, max(dates))
        return _memoized(spec, args, scope, runtime)


def _restrict_to_principal(spec: ReadSpec, args: dict[str, Any]) -> None:
    """A session may make only the reads its role allows (roles.py). An owner's session reads his data
    only: owner_ref is forced to his, another owner's is refused exactly like an unknown one (the
    message does not say that it exists)."""
    who = current()
    if who is None:
        return
    if not roles.can_read(who.role, spec.name):
        raise AccessDenied(f"Accès refusé : le rôle {who.role} ne peut pas consulter {spec.name}.")
    if who.role == "agent" and "agent_ref" in args:  # an agent reads his own missions and results only
        if args["agent_ref"] not in (None, who.agent_ref):
            raise AccessDenied("Accès refusé : un agent ne voit que ses propres missions et résultats.")
        args["agent_ref"] = who.agent_ref
    if who.role == "agent" and spec.name in roles.AGENT_TENANT_READS:
        _check_agent_tenant(who.agent_ref, args.get("tenant_ref"))
    owner = who.owner_scope
    if owner == ALL:
        return
    if "owner_ref" not in args:
        raise AccessDenied(f"Accès refusé : {spec.name} n'est pas limité à un propriétaire.")
    if args["owner_ref"] is None:
        args["owner_ref"] = owner
    elif args["owner_ref"] != owner:
        raise InvalidParameter(f"Propriétaire inconnu : {args['owner_ref']}")


def _memoized(spec: ReadSpec, args: dict[str, Any], scope: str, runtime) -> pa.Table:
    """Answer from the memo, or run the read's SQL (once, for concurrent callers of the same key)."""

    def compute() -> pa.Table:
        metrics.SQL_EXECUTIONS.labels(spec.name).inc()
        return spec.func(**args)

    started = time.perf_counter()
    table, outcome = runtime.memo.get_or_compute(
        spec.name, spec.version, scope, args, spec.depends_on, spec.ttl or runtime.settings.cache_ttl, compute
    )
    metrics.CACHE_REQUESTS.labels(spec.name, outcome).inc()
    if outcome == "fallback":
        metrics.CACHE_FALLBACKS.labels(spec.name).inc()
    source = "cache" if outcome in ("hit", "wait") else "database"
    metrics.READ_SECONDS.labels(spec.name, source).observe(time.perf_counter() - started)
    return table


def _check_agent_tenant(agent_ref: str | None, tenant_ref: str | None) -> None:
    """An agent sees a tenant only while he has (or just had) a mission about him: today's, the next
    day's, or the last AKIG_AGENT_LEASE_DAYS days' (sql/021's agent_mission_tenant, over 019's
    agent_mission_leases: the same window as his writes in akig_data/writes/collection.py). Otherwise the
    tenant is unknown to him."""
    found = sql_table(
        "SELECT * FROM agent_mission_tenant(CAST(:a AS text), CAST(:t AS text), CAST(:today AS date),"
        " CAST(:days AS integer))",
        a=agent_ref, t=tenant_ref, today=today(), days=get_runtime().settings.agent_lease_days)
    if found.num_rows == 0:
        raise InvalidParameter(f"Locataire inconnu : {tenant_ref}")


def _check_owner(owner_ref: str) -> None:
    """An unknown owner is an error, never an empty answer that reads as "this owner owes nothing"."""
    # A probe (sql/048), not the owners read: that one counts every owner's sites and leases, and a write to
    # leases drops its cached answer, so every owner's read paid it again first.
    found = sql_table("SELECT * FROM scoped_owner(CAST(:owner_ref AS text))", owner_ref=owner_ref)
    if found.num_rows == 0:
        raise InvalidParameter(f"Propriétaire inconnu : {owner_ref}")


def _check_site(site_ref: str, owner_ref: str | None) -> None:
    """A site outside the owner's scope is refused exactly like a site that does not exist."""
    found = sql_table("SELECT * FROM scoped_site(CAST(:site_ref AS text), CAST(:owner_ref AS text))",
                      site_ref=site_ref, owner_ref=owner_ref)
    if found.num_rows == 0:
        raise InvalidParameter(f"Site inconnu : {site_ref}")


def _check_tenant(tenant_ref: str, owner_ref: str | None) -> None:
    """A tenant with no lease in the owner's scope is refused exactly like one that does not exist
    (sql/021's scoped_tenant)."""
    found = sql_table(
        "SELECT * FROM scoped_tenant(CAST(:tenant_ref AS text), CAST(:owner_ref AS text))",
        tenant_ref=tenant_ref, owner_ref=owner_ref,
    )
    if found.num_rows == 0:
        raise InvalidParameter(f"Locataire inconnu : {tenant_ref}")


def sql_table(sql: str, **params: Any) -> pa.Table:
    """Run a parameterised SELECT (for read bodies) as the application role, under the current read's
    scope (row-level security), on the read replica when there is one and no write is recent."""
    runtime = get_runtime()
    return fetch_arrow(runtime.engine_for_reads(), sql, params, scope=sql_scope(), row_security=runtime.settings.row_security)
