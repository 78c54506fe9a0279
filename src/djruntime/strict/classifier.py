"""Classify one SQL statement into the tables it reads and the tables it writes (sqlglot).

The strict gate (``djruntime.strict.gate``) calls :func:`classify_sent` for every statement a make() sends.
Parsing with sqlglot costs about a millisecond, and a make() sends statements whose text differs only
by the key's literals, so results are cached twice:

* by the exact statement text (LRU);
* for reads (``SELECT``/``WITH``), by the statement's *shape*: the text with every string and number
  literal masked. Table identity never lives in a literal, so two statements of one shape read the
  same tables. Masking follows the driver's lexing; anything unusual (comments, PostgreSQL ``$`` or
  ``E''`` strings) skips the shape cache and parses the exact text.

Writes (``INSERT``/``REPLACE``/``UPDATE``/``DELETE``) are always parsed exactly, because the row check
(``djruntime.strict.rowcheck``) needs their values: datajoint sends values as ``%s`` arguments, so an
``INSERT`` of N rows has one text whatever the values, and stays cached.

Framework statements pass: plain ``SHOW``/``DESCRIBE``, ``SET`` of plain values, reads of
``information_schema``/``pg_catalog`` (unqualified: the real catalog names only)/``mysql``/
``performance_schema``/``sys`` and of datajoint's hidden ``~`` tables (``~lineage``, ``~~jobs``), and
statements with no table (``SELECT user()``, ``SELECT CURRENT_TIMESTAMP``). Refused (kind ``forbidden``):
transaction and lock control, ``SET`` of settings that change lexing or transactions. Unclassifiable too:
MySQL executable comments, ``SET`` of expressions, and checked writes whose ``WHERE`` or source uses
volatile values (user variables, ``ROW_COUNT()``, ``RAND()``, ``NOW()``, locks, sequences). Names in string literals (``table_name = 'x'``, ``'"db"."t"'::regclass``)
are data, not reads. What sqlglot cannot parse, what it parses only as an opaque command
(``PREPARE``, ``CALL``, ``LOCK TABLES``, ``LOAD DATA``), and calls of functions it does not know (stored
functions can read any table) are *unclassifiable*: the gate blocks them inside make() in raise mode.

This module runs the parse and decides the kind; statements read before parsing are in
``special_statements``, the text's shape and literals in ``literals``, the server's functions and
catalogues in ``catalog``, the rows a write touches in ``writes``; table names come from
``djlint.sqltables``, the extractor djlint uses for raw SQL in make() code.
"""

from __future__ import annotations

import re
from functools import lru_cache

import sqlglot
from sqlglot import exp

from djlint.sqltables import TableName, cte_references, identifier, table_name, write_targets

from .catalog import SAFE_FUNCTIONS, is_framework, statistics_read
from .literals import called_names, parameterize, shape_of, to_named
from .special_statements import IMPLICIT_COMMIT, SPECIAL, classify_special, has_executable_comment
from .statement import (
    PASS,
    TRANSACTION_WORDS,
    InsertInfo,
    ModifyInfo,
    Slot,
    Statement,
    dialect_of,
    implicit_commit,
    transaction_control,
    unclassifiable,
)
from .writes import Unreadable, describe_writes

_FIRST_WORD = re.compile(r"\s*\(*\s*([A-Za-z]+)")


def classify(sql: str, backend: str = "mysql") -> Statement:
    """Tables read and written by ``sql`` as the driver receives it (``%s`` arguments)."""
    return _classify(sql, dialect_of(backend))


_shapes: dict[tuple[str, str], Statement] = {}
_SHAPES_KEPT = 8192
parses = 0  # statements parsed by sqlglot since the last cache_clear() (bench and tests)


def cache_clear() -> None:
    """Forget both caches and reset the parse count."""
    global parses
    _classify.cache_clear()
    _shapes.clear()
    parses = 0


@lru_cache(maxsize=8192)
def _classify(sql: str, dialect: str) -> Statement:
    if dialect == "mysql" and "/*" in sql and has_executable_comment(sql):
        return unclassifiable("it holds a MySQL executable comment (/*! … */ or /*M! … */), which the server "
                              "runs but a parser reads as a comment")
    committing = IMPLICIT_COMMIT.match(sql)
    if committing:
        return implicit_commit(" ".join(committing.group(0).split()).upper())
    special = SPECIAL.match(sql)
    if special:
        statement = classify_special(sql, dialect, " ".join(special.group(1).upper().split()))
        return statement if statement is not None else _analyse(sql, dialect)
    first = _FIRST_WORD.match(sql)
    if first and first.group(1).upper() in ("SELECT", "WITH", "VALUES", "TABLE"):
        shape = shape_of(sql, dialect)
        if shape is not None:
            statement = _shapes.get((shape, dialect))
            if statement is None:
                statement = _analyse(sql, dialect)
                if statement.kind in ("pass", "read") and not statement.statistics:  # pins hold literals
                    if len(_shapes) >= _SHAPES_KEPT:
                        _shapes.clear()
                    _shapes[(shape, dialect)] = statement
            return statement
    return _analyse(sql, dialect)


# sqlglot reads MySQL's REPLACE INTO as an opaque command; for the gate it writes rows like INSERT
_REPLACE = re.compile(r"^(\s*)REPLACE(\s)", re.IGNORECASE)


def _analyse(sql: str, dialect: str) -> Statement:
    global parses
    parses += 1
    text = to_named(sql)
    # sqlglot reads MySQL's REPLACE INTO as an opaque command; for the gate it writes rows like INSERT
    replaced = _REPLACE.match(text) is not None
    text = _REPLACE.sub(r"\1INSERT\2", text, count=1)
    try:
        trees = sqlglot.parse(text, read=dialect)
    except Exception as error:  # noqa: BLE001 - sqlglot raises ParseError, TokenError and, rarely, others
        return unclassifiable(f"sqlglot cannot parse it ({type(error).__name__}: {str(error).splitlines()[0]})")
    reads: set[TableName] = set()
    writes: set[TableName] = set()
    inserts: list[InsertInfo] = []
    modifies: list[ModifyInfo] = []
    pins: list[tuple[Slot, Slot]] = []
    ddl = False
    problems: list[str] = []
    for tree in trees:
        if tree is None:
            continue
        if isinstance(tree, exp.Command):
            word = str(tree.this).upper()
            if word in TRANSACTION_WORDS:
                return transaction_control(word)
            problems.append(f"{word} statements are opaque to the gate")
            continue
        if isinstance(tree, (exp.Commit, exp.Rollback, exp.Transaction)):
            return transaction_control(tree.key.upper())
        if not isinstance(tree, _STATEMENTS):  # sqlglot reads an unknown verb (FLUSH, ABORT) as an expression
            problems.append(f"it is not a statement the gate knows ({tree.key})")
            continue
        if isinstance(tree, exp.Set):  # a SET the SET reader did not see (after a comment)
            problems.append("a SET after a comment")
            continue
        if isinstance(tree, exp.Use):
            return Statement("forbidden", reason=(
                "USE, which changes what every unqualified table name means for the statements that follow"))
        if isinstance(tree, exp.Show):
            continue
        cte_names = cte_references(tree)
        if isinstance(tree, exp.Describe):
            if any(isinstance(n, (exp.Insert, exp.Update, exp.Delete)) for n in tree.walk()):
                problems.append("EXPLAIN of a write")
            for table in tree.find_all(exp.Table):  # EXPLAIN of a query reveals its tables' statistics
                name = table_name(table, cte_names, dialect)
                if name is not None and not is_framework(name, dialect):
                    reads.add(name)
            continue
        if isinstance(tree, (exp.Drop, exp.Create, exp.Alter, exp.TruncateTable, exp.Comment, exp.Grant,
                             exp.Revoke)) or (isinstance(tree, exp.Select) and tree.args.get("into")):
            ddl = True
            found = len(writes)
            for table in tree.find_all(exp.Table):
                name = table_name(table, cte_names, dialect)
                if name is not None:
                    writes.add(name)
            column = tree.this if isinstance(tree, exp.Comment) else None
            if isinstance(column, exp.Column) and column.table:  # COMMENT ON COLUMN [schema.]table.column
                writes.add((identifier(column.args.get("db"), dialect), identifier(column.args["table"], dialect)))
            if len(writes) == found and not isinstance(tree, (exp.Create, exp.Select)):
                problems.append(f"a {tree.key.upper()} whose table it cannot name")
            if isinstance(tree, exp.Create) and isinstance(tree.expression, exp.Query):
                for table in tree.expression.find_all(exp.Table):
                    name = table_name(table, cte_names, dialect)
                    if name is not None:
                        reads.add(name)
            continue
        targets, target_problems = write_targets(tree)
        problems.extend(target_problems)
        target_ids = {id(t) for t in targets}
        for table in tree.find_all(exp.Table):
            name = table_name(table, set() if id(table) in target_ids else cte_names, dialect)
            if name is None or isinstance(table.parent, exp.Lock):  # FOR UPDATE OF t names a table read already
                continue
            if id(table) in target_ids:
                writes.add(name)
            elif not is_framework(name, dialect):
                reads.add(name)
            else:
                statistics = statistics_read(tree, table, name, dialect)
                if statistics is not None:
                    if isinstance(statistics, str):
                        problems.append(statistics)
                    else:
                        pins.append(statistics)
        for function in tree.find_all(exp.Anonymous):
            fname = str(function.this).lower()
            if fname not in SAFE_FUNCTIONS or isinstance(function.parent, exp.Dot):
                problems.append(f"it calls {function.this}(), which may read any table")
        if targets and not target_problems:
            try:
                describe_writes(tree, dialect, inserts, modifies, replaced=replaced and len(trees) == 1)
            except Unreadable as error:
                problems.append(str(error))
    if problems:
        return Statement(
            "unclassifiable", frozenset(reads), frozenset(writes), reason="; ".join(dict.fromkeys(problems))
        )
    if ddl:
        kind = "ddl"
    elif writes:
        kind = "write"
    elif reads or pins:
        kind = "read"
    else:
        kind = "pass"
    calls = called_names(sql) if "(" in sql else frozenset()  # the same for every text of one shape
    if kind == "pass" and not calls:
        return PASS
    return Statement(kind, frozenset(reads), frozenset(writes), inserts=tuple(inserts), modifies=tuple(modifies),
                     statistics=tuple(pins), calls=calls, several=sum(tree is not None for tree in trees) > 1)


_STATEMENTS = (exp.Query, exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Drop, exp.Create, exp.Alter,
               exp.TruncateTable, exp.Comment, exp.Grant, exp.Revoke, exp.Describe, exp.Show, exp.Use, exp.Set,
               exp.Values)


_PARSE_FAILED = "sqlglot cannot parse"


def classify_sent(text: str, backend: str = "mysql") -> tuple[Statement, tuple]:
    """Classify the exact text the server will receive (no driver arguments left): (statement, the
    values of its ``%s`` slots). Literals are lifted into arguments (:func:`parameterize`) so that
    statements differing only by values share one parse; special statements and texts the lexer does
    not read plainly are classified as they are."""
    dialect = dialect_of(backend)
    first = _FIRST_WORD.match(text)
    if first and first.group(1).upper() in ("SELECT", "WITH", "VALUES", "TABLE"):
        return _classify(text.replace("%", "%%"), dialect), ()  # reads: the shape cache masks the literals
    if not (SPECIAL.match(text) or IMPLICIT_COMMIT.match(text)):
        lifted = parameterize(text, dialect)
        if lifted is not None:
            statement = _classify(lifted[0], dialect)
            if not (statement.kind == "unclassifiable" and statement.reason.startswith(_PARSE_FAILED)):
                return statement, lifted[1]
    return _classify(text.replace("%", "%%"), dialect), ()
