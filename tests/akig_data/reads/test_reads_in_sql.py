"""Every read's SQL lives in `sql/`: a read module only calls a SQL function, `SELECT * FROM f(CAST(:a AS t), ...)`,
and every function so called is declared in a migration and follows the read functions' rules in the database."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

import akig_data.reads
from akig_data import migrations
from akig_data.reads import registry

READS_DIR = Path(akig_data.reads.__file__).parent
MODULES = sorted(READS_DIR.glob("*.py"))

# The one shape a read's SQL may take: every argument a bound parameter cast to its type.
_ARG = r"CAST\(:\w+ AS [a-z]+(?: [a-z]+)*\)"
CALL = re.compile(rf"^SELECT \* FROM (?P<function>[a-z_][a-z0-9_]*)\((?:{_ARG}(?:, {_ARG})*)?\)$")
# Text that reads like SQL (upper-case keywords, as every query of the code base is written).
SQLISH = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|WITH|FROM|JOIN|WHERE|ORDER BY|GROUP BY|UNION)\b")


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the module's, classes' and functions' docstring nodes (prose, not SQL)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def _owner(path: Path, tree: ast.Module, node: ast.AST) -> tuple[str, tuple[str, ...]]:
    """Who a piece of SQL belongs to, as a label and the reads concerned: the read holding it, or for a
    helper the reads of the module that call it."""
    for top in tree.body:
        if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef)) and top.lineno <= node.lineno <= top.end_lineno:
            if top.name in registry.REGISTRY:
                return f"read {top.name} ({path.name}:{node.lineno})", (top.name,)
            callers = tuple(sorted(
                f.name for f in tree.body
                if isinstance(f, ast.FunctionDef) and f.name in registry.REGISTRY
                and any(isinstance(n, ast.Name) and n.id == top.name for n in ast.walk(f))
            ))
            used_by = f", used by the reads {', '.join(callers)}" if callers else ""
            return f"{top.name} ({path.name}:{node.lineno}{used_by})", callers
    return f"{path.name}:{node.lineno}", ()


def _sql_calls(path: Path) -> tuple[list[tuple[str, tuple[str, ...], str]], list[str]]:
    """(label, reads, function) for each `sql_table` call of a module, and what breaks the rule."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    seen = _docstrings(tree)          # nodes already judged (or prose)
    calls: list[tuple[str, tuple[str, ...], str]] = []
    problems: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "sql_table":
            label, reads = _owner(path, tree, node)
            sql = node.args[0] if node.args else None
            if sql is not None:
                seen.update(id(n) for n in ast.walk(sql))
            if not (isinstance(sql, ast.Constant) and isinstance(sql.value, str)):
                problems.append(f"{label}: sql_table's SQL is built at run time; write `SELECT * FROM f(...)` out")
                continue
            match = CALL.match(sql.value)
            if match is None:
                problems.append(f"{label}: inline SQL instead of a function of sql/: {sql.value[:120]!r}")
            else:
                calls.append((label, reads, match.group("function")))
    for node in ast.walk(tree):
        if id(node) in seen:
            continue
        text = None
        if isinstance(node, ast.JoinedStr):
            seen.update(id(n) for n in ast.walk(node))
            text = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        if text is not None and SQLISH.search(text):
            problems.append(f"{_owner(path, tree, node)[0]}: SQL outside a function of sql/: {text[:120]!r}")
    return calls, problems


def _declared_functions() -> dict[str, str]:
    """Function name -> the migration that creates it."""
    declared: dict[str, str] = {}
    for migration in migrations.discover():
        for name in re.findall(r"CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+([a-z_][a-z0-9_]*)\s*\(", migration.sql, re.I):
            declared.setdefault(name.lower(), migration.name)
    return declared


def _every_call() -> list[tuple[str, tuple[str, ...], str]]:
    calls = []
    for path in MODULES:
        calls += _sql_calls(path)[0]
    return calls


def test_the_rule_spots_inline_sql_and_names_the_read(tmp_path):
    module = tmp_path / "portfolio.py"
    module.write_text(
        '"""Reads. SELECT in prose is fine."""\n'
        "def owners(owner_ref=None):\n"
        '    """Owners."""\n'
        '    return sql_table("SELECT o.owner_ref FROM owners o WHERE o.owner_ref = :owner_ref", owner_ref=owner_ref)\n'
        "def sites(owner_ref=None):\n"
        '    return sql_table("SELECT * FROM sites(CAST(:owner_ref AS text))", owner_ref=owner_ref)\n'
        "def _shared(name):\n"
        '    return sql_table(f"SELECT * FROM {name}(CAST(:a AS date))", a=1)\n'
        "def promises():\n"
        "    return _shared('promises')\n"
        'FILTER = " WHERE commune = :c"\n'
    )
    calls, problems = _sql_calls(module)
    assert calls == [("read sites (portfolio.py:6)", ("sites",), "sites")]
    assert len(problems) == 3
    assert problems[0].startswith("read owners (portfolio.py:4): inline SQL")
    assert problems[1].startswith("_shared (portfolio.py:8, used by the reads promises): sql_table's SQL is built at run time")
    assert problems[2].startswith("portfolio.py:11: SQL outside a function")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_a_read_module_holds_no_inline_sql(path):
    """One SQL function in sql/ per read: the money rules and every filter and order live in PostgreSQL."""
    assert _sql_calls(path)[1] == []


def test_every_read_calls_a_function_declared_in_a_migration():
    calls = _every_call()
    assert sorted(registry.REGISTRY) == sorted({read for _, reads, _ in calls for read in reads})
    declared = _declared_functions()
    assert [(label, f) for label, _, f in calls if f not in declared] == []


def test_the_called_functions_run_with_the_callers_rights_and_stay_inlinable(fresh_db):
    """Like every read function: SECURITY INVOKER (row-level security applies to the caller's role), STABLE,
    no SET clause (PostgreSQL inlines only a function without one, and folds `p IS NULL OR ...` then), and
    executable by both read roles."""
    functions = sorted({f for _, _, f in _every_call()})
    with fresh_db.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT p.proname, p.oid::regprocedure::text AS signature, p.prosecdef, p.provolatile, p.proconfig,"
            "       p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'sql') AS is_sql,"
            "       has_function_privilege('akig_read_all', p.oid, 'EXECUTE') AS read_all,"
            "       has_function_privilege('akig_read_owner', p.oid, 'EXECUTE') AS read_owner"
            "  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'public' AND p.proname = ANY(:names)"), {"names": functions}).all()
    assert sorted({r.proname for r in rows}) == functions
    wrong = [(r.signature, r.prosecdef, r.provolatile, r.proconfig, r.is_sql, r.read_all, r.read_owner)
             for r in rows
             if r.prosecdef or r.provolatile != "s" or r.proconfig or not (r.is_sql and r.read_all and r.read_owner)]
    assert wrong == []
