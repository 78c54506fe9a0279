"""Statements read before (or instead of) parsing: SHOW, DESCRIBE, SET, transaction control.

sqlglot reads these loosely or not at all, so the classifier recognises them by their first words:
plain SHOW and DESCRIBE of metadata pass; SET passes only for lock and statement timeouts; transaction
and lock control, statements that commit by themselves and MySQL executable comments are refused.
"""

from __future__ import annotations

import re

from .statement import (
    PASS,
    TRANSACTION_WORDS,
    Statement,
    implicit_commit,
    transaction_control,
    unclassifiable,
)

# Statements classified before parsing (sqlglot reads them loosely or not at all): SHOW and DESCRIBE
# pass when plain; SET is read by _classify_set(); transaction and lock control is refused in make().
SPECIAL = re.compile(
    r"\s*(START\s+TRANSACTION|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|END|ABORT|XA|LOCK|UNLOCK|"
    r"PREPARE\s+TRANSACTION|SHOW|DESCRIBE|DESC|SET)\b",
    re.IGNORECASE,
)
# SHOW passes unparsed only without an expression (a subquery or function needs a parenthesis).
_SHOW_EXPRESSION = re.compile(r"[(;]|\bSELECT\b", re.IGNORECASE)
_NAME = r"(?:`[^`]*`|\"[^\"]*\"|[\w$]+)"
_PLAIN_DESCRIBE = re.compile(
    rf"\s*DESC(?:RIBE)?\s+{_NAME}(?:\s*\.\s*{_NAME})?(?:\s+(?:{_NAME}|'[^'\\]*'))?\s*;?\s*\Z", re.IGNORECASE
)

# MySQL lexemes in which "/*!" is not an executable comment: strings, quoted names, line comments; and
# block comments, whose opening tells (/*! and /*M! run their content, MariaDB's versioned /*!50100 too).
_MYSQL_LEXEMES = re.compile(
    r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`|\#[^\n]*|--\s[^\n]*|/\*(M?!)?.*?(?:\*/|\Z)""", re.DOTALL
)


def has_executable_comment(sql: str) -> bool:
    """Whether ``sql`` holds a MySQL/MariaDB executable comment outside strings and names."""
    return any(match.group(1) for match in _MYSQL_LEXEMES.finditer(sql))


def classify_special(sql: str, dialect: str, word: str) -> Statement | None:
    """The statement ``sql`` whose first word ``word`` matched :data:`SPECIAL`; None: parse it (a
    DESCRIBE of a query)."""
    if word in TRANSACTION_WORDS:
        return transaction_control(word)
    if word == "SET":
        return _classify_set(sql, dialect)
    if word == "SHOW":
        if _SHOW_EXPRESSION.search(sql.strip().rstrip(";")):
            return unclassifiable("a SHOW with an expression (a subquery or function can read any table)")
        if not _SHOW_METADATA[dialect].match(sql):
            return Statement("forbidden", reason=(
                "a SHOW of server state or statistics (SHOW TABLE STATUS, INDEX, STATUS, PROCESSLIST, ENGINE…: row "
                "counts, cardinalities and other sessions' statements reveal other tables' contents)"))
        return PASS
    if _PLAIN_DESCRIBE.match(sql):  # DESCRIBE table [column]; DESCRIBE of a query is parsed
        return PASS
    return None


# SHOW inside make(): metadata only (names, columns, definitions, settings).
_SHOW_METADATA = {
    "mysql": re.compile(
        r"\s*SHOW\s+(?:FULL\s+)?(?:COLUMNS|FIELDS|TABLES|DATABASES|SCHEMAS|CREATE\s+(?:TABLE|VIEW|DATABASE|SCHEMA)\b"
        r"|(?:SESSION\s+)?VARIABLES|WARNINGS|ERRORS|GRANTS|CHARACTER\s+SET|CHARSET|COLLATION|ENGINES|PRIVILEGES)\b",
        re.IGNORECASE),
    "postgres": re.compile(r"\s*SHOW\s+(?:[A-Za-z_][\w.]*|\"[^\"]*\")\s*;?\s*\Z", re.IGNORECASE),
}
# Statements that commit the open transaction by themselves (MySQL/MariaDB), even when they then fail:
# account management, administration, RENAME/ANALYZE/OPTIMIZE/…; refused inside make() before they are sent.
IMPLICIT_COMMIT = re.compile(
    r"\s*(?:RENAME|ANALYZE|OPTIMIZE|REPAIR|CHECK|CHECKSUM|RESET|INSTALL|UNINSTALL|CACHE\s+INDEX|"
    r"LOAD\s+INDEX|PURGE|KILL|SHUTDOWN|BACKUP|CHANGE\s+(?:MASTER|REPLICATION)|START\s+(?:SLAVE|REPLICA)|"
    r"STOP\s+(?:SLAVE|REPLICA)|(?:CREATE|DROP|ALTER|RENAME)\s+(?:USER|ROLE|SERVER|EVENT|FUNCTION|PROCEDURE|"
    r"TRIGGER|DATABASE|SCHEMA|TABLESPACE|LOGFILE|SEQUENCE|PACKAGE)|CREATE\s+(?:OR\s+REPLACE\s+|"
    r"DEFINER\s*=\s*\S+\s+|AGGREGATE\s+)+(?!TABLE|VIEW|INDEX|TEMPORARY)|VACUUM|CLUSTER|"
    r"REINDEX|CHECKPOINT|DISCARD|REFRESH|SECURITY\s+LABEL|REASSIGN|IMPORT|COPY|LISTEN|NOTIFY|UNLISTEN)\b",
    re.IGNORECASE,
)


# SET inside make(): only a few settings that change how long the server waits, never what a statement
# returns or does (sql_select_limit, time_zone, foreign_key_checks, user variables… would change the
# results of the statements the gate checked, or of the write it checked).
SAFE_SETTINGS = frozenset({
    "innodb_lock_wait_timeout", "lock_wait_timeout", "max_statement_time", "max_execution_time",
    "net_read_timeout", "net_write_timeout", "wait_timeout", "interactive_timeout", "statement_timeout",
    "lock_timeout", "idle_in_transaction_session_timeout", "application_name",
})

# SET inside make(): every value a plain literal or name. Settings that change how the server reads the
# following statements (string escapes, quoting, name resolution, character sets) would make the gate's
# reading differ from the server's; transaction settings would escape the engine's transaction.
_SET_TOKEN = {
    "mysql": re.compile(
        r"""\s*(?:(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?P<name>`[^`]*`|[A-Za-z_][\w$]*)"""
        r"""|(?P<num>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?![\w$])|(?P<op>@@|@|:=|=|,|\.))""", re.DOTALL),
    "postgres": re.compile(
        r"""\s*(?:(?P<str>'(?:[^'\\]|'')*'(?!'))|(?P<name>"(?:[^"]|"")*"|[A-Za-z_][\w$]*)"""
        r"""|(?P<num>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?![\w$])|(?P<op>=|,|\.))""", re.DOTALL),
}
LEXING_SETTINGS = frozenset({
    "sql_mode", "standard_conforming_strings", "backslash_quote", "escape_string_warning", "search_path",
    "names", "character set", "charset", "character_set_client", "character_set_connection",
    "character_set_results", "collation_connection", "client_encoding", "session_replication_role",
})
TRANSACTION_SETTINGS = frozenset({
    "autocommit", "transaction", "characteristics", "completion_type", "transaction_isolation", "tx_isolation",
    "transaction_read_only", "tx_read_only", "default_transaction_isolation", "default_transaction_read_only",
    "default_transaction_deferrable", "transaction_deferrable", "session characteristics",
})


def _set_tokens(sql: str, dialect: str) -> list[tuple[str, str]] | None:
    body = sql.strip().removesuffix(";")
    pattern = _SET_TOKEN[dialect]
    tokens: list[tuple[str, str]] = []
    position, end = 0, len(body)
    while True:
        while position < end and body[position].isspace():
            position += 1
        if position >= end:
            return tokens
        match = pattern.match(body, position)
        if match is None or match.end() == position:
            return None
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()


def _classify_set(sql: str, dialect: str) -> Statement:
    tokens = _set_tokens(sql, dialect)
    cannot = unclassifiable("a SET whose values are not plain literals or names (a subquery, function or "
                            "@@variable in a SET can read or derive anything)")
    if not tokens or tokens[0] != ("name", "SET") and tokens[0][1].upper() != "SET":
        return cannot
    tokens = [(kind, value.lower() if kind in ("name", "op") else value) for kind, value in tokens[1:]]
    items: list[list[tuple[str, str]]] = [[]]
    for token in tokens:
        if token == ("op", ",") and dialect == "mysql":  # PostgreSQL: one setting, maybe a list value
            items.append([])
        else:
            items[-1].append(token)
    for item in items:
        verdict = _set_item(item)
        if verdict is not None:
            return verdict if isinstance(verdict, Statement) else cannot
    return PASS


_GLOBAL = Statement("forbidden", reason="a SET of a server-wide (GLOBAL) setting")
_ASSIGN = {("op", "="), ("op", ":="), ("name", "to")}


def _set_item(item: list[tuple[str, str]]) -> Statement | str | None:
    """None: a plain setting; "cannot": not plain; or the Statement that refuses it."""
    words = [value for _, value in item]
    if not words:
        return "cannot"
    if words[0] in ("global", "persist", "persist_only"):
        return _GLOBAL
    if words[0] in ("session", "local") and len(item) > 1 and item[1] not in _ASSIGN:
        item, words = item[1:], words[1:]
    if words[0] == "@@":  # @@[session.|local.|global.]name
        if len(words) > 3 and words[2] == ".":
            if words[1] == "global":
                return _GLOBAL
            item, words = item[2:], words[2:]
        item, words = item[1:], words[1:]
        if not item or item[0][0] != "name":
            return "cannot"
    elif words[0] == "@":  # a user variable: only its value matters
        if len(item) < 2 or item[1][0] not in ("name", "str"):
            return "cannot"
        item, words = [("name", "@" + words[1]), *item[2:]], ["@" + words[1], *words[2:]]
    split = next((i for i, token in enumerate(item) if token in _ASSIGN), len(item))
    if split == len(item) and len(item) == 3 and words[:2] == ["time", "zone"] and item[2][0] != "op":
        return _changes_results("time zone")  # PostgreSQL SET TIME ZONE 'UTC' | LOCAL: changes now(), timestamptz
    if words[0] == "password" or words[:2] == ["default", "role"]:
        return _changes_results(" ".join(words[:2]) if words[0] == "default" else words[0])
    if any(kind != "name" for kind, _ in item[:split]):
        return "cannot"
    name = " ".join(words[:split])
    if name in TRANSACTION_SETTINGS or name.startswith(("transaction ", "characteristics ")):
        return transaction_control(f"SET {words[0].upper()}")
    if name in LEXING_SETTINGS or name.startswith(("names ", "character set", "charset ")):
        name = " ".join(words[:2]) if name.startswith("character set") else words[0]
        return Statement("forbidden", reason=(
            f"SET {name}, a setting that changes how the server reads the statements that follow (quoting, "
            "string escapes, name resolution, character set): the gate could no longer read them as the "
            "server does"))
    if split == len(item):
        return "cannot"
    values = item[split + 1:]
    # value [, value …]: literals and names only (a list only in PostgreSQL, whose items were not split)
    for index, (kind, value) in enumerate(values):
        if index % 2 == 0 and kind not in ("str", "name", "num"):
            return "cannot"
        if index % 2 == 1 and (kind, value) != ("op", ","):
            return "cannot"
    if not values or len(values) % 2 == 0:
        return "cannot"
    return None if name in SAFE_SETTINGS else _changes_results(name)


def _changes_results(name: str) -> Statement:
    if name in ("password", "default role") or name.startswith(("password ", "default role")):
        return implicit_commit(f"SET {name.split()[0].upper()}")
    return Statement("forbidden", reason=(
        f"SET {name}: inside make() only lock and statement timeouts may be set; other settings and user "
        "variables change what later statements return or do (sql_select_limit, time_zone, foreign_key_checks, "
        "@variables…), so the statement the gate checks would no longer be the one the server runs"))
