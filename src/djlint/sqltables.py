"""The tables a SQL statement reads and writes (sqlglot): the one extractor of both packages.

djlint reads raw SQL written in make() bodies (:func:`classify`); djruntime's strict gate classifies
every statement a make() sends (``djruntime.strict.classifier``) and builds on the same pieces: how a
table reference is named (:func:`table_name`), which references are CTEs (:func:`cte_references`), and
which tables an ``INSERT``/``REPLACE``/``UPDATE``/``DELETE``/``MERGE`` writes (:func:`write_targets`).
It lives in djlint because the linter's light install has sqlglot but not datajoint.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope

TableName = tuple[str, str]  # (schema, table) as the server resolves them; schema "" when left out


def identifier(node: Any, dialect: str = "mysql") -> str:
    """A name as the server resolves it: PostgreSQL folds unquoted names to lower case; MySQL compares
    schema and table names as written (case-sensitive on Linux)."""
    if node is None:
        return ""
    if isinstance(node, exp.Identifier):
        return str(node.this).lower() if dialect == "postgres" and not node.quoted else str(node.this)
    return str(getattr(node, "name", node))


def table_name(table: exp.Table, cte_refs: set[int], dialect: str) -> TableName | None:
    """(schema, table) of a table reference; None for table functions, MySQL's unquoted DUAL and the
    references that sqlglot's scope analysis resolved to a CTE (``cte_refs``: ids of Table nodes).
    A back-quoted `dual` is a real table."""
    if not isinstance(table.this, exp.Identifier) or id(table) in cte_refs:
        return None
    name = identifier(table.this, dialect)
    schema = identifier(table.args.get("db"), dialect)
    if not schema and not table.this.quoted and name.lower() == "dual":
        return None
    return (schema, name)


def cte_references(tree: exp.Expr) -> set[int]:
    """Ids of the Table nodes of ``tree`` that name a CTE visible in their scope (sqlglot's scope
    analysis, never name matching: a CTE named like a real table hides it only where it is in scope;
    a write target is always a real table). Unresolvable trees: none (every name is a table: fail closed)."""
    if not any(True for _ in tree.find_all(exp.CTE)):
        return set()
    try:
        scopes = list(traverse_scope(tree))
    except Exception:  # noqa: BLE001 - sqlglot raises OptimizeError and others on odd trees
        return set()
    refs: set[int] = set()
    for scope in scopes:
        for table in scope.tables:
            if not table.args.get("db") and table.name in scope.cte_sources:
                refs.add(id(table))
    return refs


def write_targets(tree: exp.Expr) -> tuple[list[exp.Table], list[str]]:
    """Table nodes written by INSERT/UPDATE/DELETE/MERGE anywhere in ``tree`` (a data-modifying CTE
    too), and the forms whose one target cannot be told: a multi-table UPDATE or DELETE may write every
    table it joins, so all of them are listed."""
    targets: list[exp.Table] = []
    problems: list[str] = []
    for node in tree.find_all(exp.Insert, exp.Update, exp.Delete, exp.Merge):
        this = node.this
        if isinstance(this, exp.Schema):
            this = this.this
        if isinstance(node, exp.Delete) and node.args.get("tables"):
            targets.extend(t for t in node.args["tables"] if isinstance(t, exp.Table))
            problems.append("a multi-table DELETE")
            continue
        if not isinstance(this, exp.Table):
            problems.append(f"a {node.key.upper()} into something other than a table")
            continue
        if this.args.get("joins"):
            targets.extend(this.find_all(exp.Table))
            problems.append(f"a multi-table {node.key.upper()}")
            continue
        targets.append(this)
    return targets, problems


# ---------------------------------------------------------------- raw SQL in make() code (djlint)
# The linter records the table a statement names as its target (the first of an UPDATE's joins, the
# tables a DELETE lists and its FROM table), where the gate above must assume every joined table written.

_LINTED_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Drop, exp.TruncateTable, exp.Merge, exp.Alter)
# DB-API placeholders (%s, %(name)s), str.format fields ({}, {0}, {name}) and qmark: plain values to sqlglot
_PLACEHOLDER = re.compile(r"%\([A-Za-z_]\w*\)s|%s|\{[A-Za-z_0-9]*\}|\?")
_REPLACE_TARGET = re.compile(
    r"^\s*replace\s+(?:low_priority\s+|delayed\s+)?(?:into\s+)?([`\"\w.]+)", re.IGNORECASE
)


def _named_targets(statement: exp.Expression) -> list[exp.Table]:
    """The tables a statement written in make() code names as the ones it changes."""
    if isinstance(statement, (exp.Insert, exp.Merge)):
        target = statement.this
        table = target if isinstance(target, exp.Table) else target.find(exp.Table) if target else None
        return [table] if table is not None else []
    if isinstance(statement, exp.Update):
        target = statement.this
        if isinstance(target, exp.Table):
            return [target]
        return list(target.find_all(exp.Table)) if target else []
    if isinstance(statement, exp.Delete):
        target = statement.this
        tables = [target] if isinstance(target, exp.Table) else []
        tables.extend(t for t in (statement.args.get("tables") or []) if isinstance(t, exp.Table))
        return tables
    if isinstance(statement, exp.TruncateTable):
        return [t for t in statement.expressions if isinstance(t, exp.Table)]
    if isinstance(statement, (exp.Drop, exp.Alter)):
        target = statement.find(exp.Table)
        return [target] if target is not None else []
    return []


@lru_cache(maxsize=4096)
def classify(sql: str) -> tuple[tuple[TableName, ...], tuple[TableName, ...]]:
    """(tables written, tables read) by the statements of ``sql``, a string make() code passes to
    ``.query(...)`` (MySQL dialect, placeholders read as values); ((), ()) when it is not SQL."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        statements = sqlglot.parse(_PLACEHOLDER.sub("NULL", sql), read="mysql")
    except Exception:  # noqa: BLE001 - not SQL (e.g. a pandas query string): no finding
        return (), ()
    finally:
        logger.setLevel(level)
    written: list[TableName] = []
    read: list[TableName] = []
    for statement in statements:
        if statement is None:
            continue
        if isinstance(statement, exp.Command):  # sqlglot reads REPLACE as an opaque command
            match = _REPLACE_TARGET.match(sql)
            if match:
                parts = [p.strip('`"') for p in match.group(1).split(".")]
                written.append((parts[0], parts[1]) if len(parts) == 2 else ("", parts[-1]))
            continue
        if not isinstance(statement, (*_LINTED_WRITES, exp.Select, exp.Union)):
            continue  # an expression like "a > 1" (pandas), SHOW, SET...: nothing to map
        targets = _named_targets(statement) if isinstance(statement, _LINTED_WRITES) else []
        target_ids = {id(t) for t in targets}
        ctes = cte_references(statement)
        written.extend(name for t in targets if (name := table_name(t, set(), "mysql")) is not None)
        read.extend(name for t in statement.find_all(exp.Table)
                    if id(t) not in target_ids and (name := table_name(t, ctes, "mysql")) is not None)
    return tuple(dict.fromkeys(written)), tuple(dict.fromkeys(read))
