"""Classify one SQL statement into the tables it reads and the tables it writes (sqlglot).

The strict gate (``djruntime.strict``) calls :func:`classify` for every statement a make() sends.
Parsing with sqlglot costs about a millisecond, and a make() sends statements whose text differs only
by the key's literals, so results are cached twice:

* by the exact statement text (LRU);
* for reads (``SELECT``/``WITH``), by the statement's *shape*: the text with every string and number
  literal masked. Table identity never lives in a literal, so two statements of one shape read the
  same tables. Masking follows the driver's lexing; anything unusual (comments, PostgreSQL ``$`` or
  ``E''`` strings) skips the shape cache and parses the exact text.

Writes (``INSERT``/``REPLACE``/``UPDATE``/``DELETE``) are always parsed exactly, because the row check
(``djruntime.rowcheck``) needs their values: datajoint sends values as ``%s`` arguments, so an
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
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.scope import traverse_scope

TableName = tuple[str, str]  # (schema, table) as the server resolves them; schema "" when left out
ArgKey = int | str  # position in a sequence of arguments, or the name in a mapping

SYSTEM_SCHEMAS = frozenset({"information_schema", "performance_schema", "mysql", "sys", "pg_catalog", "pg_toast"})

# Built-in functions that sqlglot leaves anonymous but that read no table.
SAFE_FUNCTIONS = frozenset(
    """
    user current_user session_user system_user database schema version connection_id last_insert_id
    row_count found_rows get_lock release_lock is_used_lock is_free_lock release_all_locks uuid uuid_short
    uuid_to_bin bin_to_uuid inet_aton inet_ntoa inet6_aton inet6_ntoa sleep benchmark format
    date_format str_to_date from_unixtime unix_timestamp convert_tz sec_to_time time_to_sec timestampdiff
    timestampadd period_add period_diff makedate maketime yearweek weekofyear dayname monthname
    last_day to_days from_days utc_timestamp utc_date utc_time sysdate localtime localtimestamp
    field elt find_in_set instr locate lpad rpad space repeat reverse soundex substring_index
    char_length octet_length bit_length ascii ord hex unhex conv crc32 md5 sha sha1 sha2 to_base64
    from_base64 compress uncompress any_value bit_count json_extract json_unquote json_object json_array
    json_contains json_length json_keys json_type json_valid json_set json_insert json_replace
    json_remove json_merge_patch json_merge_preserve json_quote json_search json_value ifnull nullif isnull
    coalesce greatest least interval strcmp regexp_like regexp_replace regexp_substr regexp_instr
    pg_backend_pid pg_advisory_lock pg_advisory_unlock pg_try_advisory_lock pg_advisory_xact_lock
    pg_try_advisory_xact_lock pg_advisory_unlock_all txid_current now clock_timestamp statement_timestamp
    transaction_timestamp timeofday age date_part date_trunc justify_days justify_hours to_char to_date
    to_timestamp to_number gen_random_uuid encode decode md5 quote_ident quote_literal quote_nullable
    format_type inet_client_addr inet_server_addr current_schema current_database obj_description
    col_description pg_get_constraintdef pg_get_indexdef pg_get_expr pg_typeof array_agg string_agg
    jsonb_build_object json_build_object jsonb_agg json_agg jsonb_typeof jsonb_extract_path
    bin oct weekday dayofweek dayofmonth dayofyear microsecond timediff adddate subdate addtime subtime
    to_seconds binary json_arrayagg json_objectagg json_pretty json_depth json_overlaps json_contains_path
    json_array_append json_array_insert json_storage_size json_detailed json_compact json_loose
    json_exists json_query json_equals json_normalize json_key_value
    bit_and bit_or bit_xor std stddev_pop stddev_samp var_pop var_samp variance median
    export_set make_set lcase ucase mid position quote insert char_length character_length
    to_char log2 log10 ln exp pow power sqrt sign truncate radians degrees pi cot atan2 crc32c
    natural_sort_key sformat date_add date_sub extract period_diff quarter week year month day hour
    minute second time date datediff sec_to_time
    to_json to_jsonb every bool_and bool_or make_date make_time make_timestamp make_timestamptz
    make_interval cardinality isfinite num_nonnulls num_nulls array_length array_lower array_upper
    array_position array_positions array_remove array_replace array_append array_prepend array_cat
    array_to_string string_to_array array_dims array_ndims unnest jsonb_array_length json_array_length
    jsonb_pretty jsonb_strip_nulls json_strip_nulls jsonb_set jsonb_insert jsonb_path_exists
    jsonb_path_query jsonb_path_query_first jsonb_path_query_array jsonb_path_match jsonb_object_keys
    json_object_keys jsonb_each json_each jsonb_each_text json_each_text jsonb_extract_path_text
    json_extract_path_text json_typeof jsonb_object_agg json_object_agg row_to_json array_to_json
    split_part strpos btrim initcap translate chr to_hex bit_count regexp_match regexp_matches
    regexp_split_to_array regexp_split_to_table starts_with left right length lower upper
    width_bucket div mod gcd lcm factorial scale trim_scale min_scale ceiling floor round trunc abs
    percentile_cont percentile_disc mode corr covar_pop covar_samp regr_slope regr_intercept
    string_agg concat_ws to_timestamp date_bin extract timezone overlay
    """.split()  # noqa: SIM905 - a word list reads better than a literal of 200 strings
)

# Functions whose value can change between the gate's check query and the write that follows it
# (time, randomness, sequences, locks, session counters): a checked write must not depend on them.
VOLATILE_FUNCTIONS = frozenset(
    """
    row_count found_rows last_insert_id get_lock release_lock release_all_locks is_free_lock is_used_lock
    sleep benchmark rand random uuid uuid_short sys_guid gen_random_uuid uuid_generate_v1 uuid_generate_v4
    now current_timestamp current_date current_time curdate curtime sysdate localtime localtimestamp
    utc_timestamp utc_date utc_time unix_timestamp clock_timestamp statement_timestamp
    transaction_timestamp timeofday pg_advisory_lock pg_advisory_unlock pg_try_advisory_lock
    pg_advisory_xact_lock pg_try_advisory_xact_lock pg_advisory_unlock_all pg_advisory_lock_shared
    pg_advisory_unlock_shared pg_sleep pg_sleep_for pg_sleep_until nextval setval currval lastval
    set_config txid_current txid_current_if_assigned pg_current_xact_id connection_id pg_backend_pid
    master_pos_wait source_pos_wait
    """.split()  # noqa: SIM905
)
_VOLATILE_NODES = (exp.Rand, exp.Uuid, exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentTime, exp.Localtime,
                   exp.Localtimestamp, exp.UtcTimestamp, exp.UtcDate, exp.Parameter, exp.PropertyEQ)

# Unqualified pg_ names that resolve to PostgreSQL's catalog (pg_catalog comes first on the search
# path): only these are framework reads; a user table named pg_secret is not.
PG_CATALOG_RELATIONS = frozenset(
    """
    pg_class pg_namespace pg_attribute pg_type pg_index pg_indexes pg_constraint pg_description pg_enum
    pg_tables pg_views pg_matviews pg_proc pg_depend pg_attrdef pg_settings pg_database pg_roles pg_user
    pg_authid pg_auth_members pg_locks pg_stat_activity pg_inherits pg_sequence pg_sequences pg_trigger
    pg_extension pg_am pg_amop pg_amproc pg_collation pg_operator pg_opclass pg_opfamily pg_cast
    pg_language pg_rewrite pg_statistic pg_stats pg_tablespace pg_timezone_names pg_timezone_abbrevs
    pg_shdescription pg_policy pg_policies pg_publication pg_event_trigger pg_foreign_table
    pg_foreign_server pg_partitioned_table pg_range pg_conversion pg_aggregate pg_available_extensions
    pg_stat_user_tables pg_stat_all_tables pg_statio_user_tables pg_prepared_xacts pg_cursors
    pg_prepared_statements pg_rules pg_seclabel pg_init_privs pg_default_acl pg_largeobject_metadata
    """.split()  # noqa: SIM905
)

# Catalogue relations that hold statistics of other tables' contents (row counts, value histograms, sizes,
# other sessions' statement texts). (schema, relation) -> the statistics columns, or None: all of it.
# Metadata (names, columns, keys, comments) stays readable; reading these is a read of the tables they
# describe, so a query must pin them (schema and table equal to literals) — else it is refused.
_STATISTICS_COLUMNS = {
    ("information_schema", "tables"): frozenset({"table_rows", "avg_row_length", "data_length", "max_data_length",
                                                 "index_length", "data_free", "auto_increment", "checksum",
                                                 "update_time", "check_time", "max_index_length"}),
    ("information_schema", "partitions"): frozenset({"table_rows", "avg_row_length", "data_length", "max_data_length",
                                                     "index_length", "data_free", "checksum", "update_time",
                                                     "check_time"}),
    ("information_schema", "statistics"): frozenset({"cardinality"}),
    ("pg_catalog", "pg_class"): frozenset({"reltuples", "relpages", "relallvisible", "relfrozenxid"}),
}
# (schema, table) columns by which a statistics relation names the table it describes: pinnable ones only.
_STATISTICS_PINS = {
    ("information_schema", "tables"): ("table_schema", "table_name"),
    ("information_schema", "partitions"): ("table_schema", "table_name"),
    ("information_schema", "statistics"): ("table_schema", "table_name"),
    ("information_schema", "column_statistics"): ("schema_name", "table_name"),
    ("mysql", "column_stats"): ("db_name", "table_name"),
    ("mysql", "table_stats"): ("db_name", "table_name"),
    ("mysql", "index_stats"): ("db_name", "table_name"),
    ("mysql", "innodb_table_stats"): ("database_name", "table_name"),
    ("mysql", "innodb_index_stats"): ("database_name", "table_name"),
    ("pg_catalog", "pg_stats"): ("schemaname", "tablename"),
    ("pg_catalog", "pg_stat_user_tables"): ("schemaname", "relname"),
    ("pg_catalog", "pg_stat_all_tables"): ("schemaname", "relname"),
    ("pg_catalog", "pg_statio_user_tables"): ("schemaname", "relname"),
    ("pg_catalog", "pg_statio_all_tables"): ("schemaname", "relname"),
}
_WHOLLY_STATISTICS_SCHEMAS = frozenset({"performance_schema", "sys"})
_WHOLLY_STATISTICS = (
    "processlist", "innodb_", "table_statistics", "index_statistics", "client_statistics", "user_statistics",
    "column_statistics", "column_stats", "table_stats", "index_stats", "innodb_table_stats", "innodb_index_stats",
    "general_log", "slow_log", "pg_stat", "pg_statistic", "pg_stats", "pg_statio", "pg_stat_statements",
    "global_status", "session_status", "global_variables", "session_variables",
)


def _statistics_read(tree: exp.Expression, table: exp.Table, name: TableName, dialect: str):
    """None: ``table`` (a catalogue relation) is read for metadata only. Else a (schema, table) pair of slots
    naming the one table whose statistics the query reads, or a reason to refuse it."""
    schema, relation = name[0].lower(), name[1].lower()
    if dialect == "postgres" and not schema and relation.startswith("pg_"):
        schema = "pg_catalog"
    if dialect == "postgres" and schema == "information_schema":
        return None  # PostgreSQL's information_schema holds no statistics
    key = (schema, relation)
    columns = _STATISTICS_COLUMNS.get(key)
    if columns is not None:
        stars = any(isinstance(s, exp.Star) for s in tree.find_all(exp.Star))
        if not stars and not any(c.name.lower() in columns for c in tree.find_all(exp.Column)):
            return None  # metadata only
    elif not (schema in _WHOLLY_STATISTICS_SCHEMAS or key in _STATISTICS_PINS
              or relation.startswith(_WHOLLY_STATISTICS)):
        return None
    pin = _STATISTICS_PINS.get(key)
    if pin is not None:
        found = _pinned_slots(tree, table, pin, dialect)
        if found is not None:
            return found
    return (f"it reads catalogue statistics ({name[0] or schema}.{name[1]}: row counts, value statistics or other "
            "sessions' statements), which reveal other tables' contents; name one table "
            f"({' = … AND '.join(pin) + ' = …' if pin else 'not possible for this relation'})")


def _pinned_slots(tree: exp.Expression, table: exp.Table, pin: tuple[str, str], dialect: str
                  ) -> tuple[Slot, Slot] | None:
    """The literal or argument each of ``pin``'s columns *of ``table``* equals in a top-level AND of
    ``tree``'s WHERE (a column of another relation of the query pins nothing)."""
    select = tree if isinstance(tree, exp.Select) else None
    where = select.args.get("where") if select is not None else None
    if where is None or select.find(exp.Union, exp.Subquery) is not None:
        return None
    alone = sum(1 for _ in select.find_all(exp.Table)) == 1
    owner = table.alias_or_name.lower()
    found: dict[str, Slot] = {}
    for condition in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
        condition = condition.unnest()
        if (isinstance(condition, exp.EQ) and isinstance(condition.this, exp.Column)
                and (condition.this.table.lower() == owner if condition.this.table else alone)):
            column = condition.this.name.lower()
            slot = _slot(condition.expression, dialect)
            if column in pin and slot.kind in ("arg", "literal"):
                found[column] = slot
    if all(column in found for column in pin):
        return found[pin[0]], found[pin[1]]
    return None


# Statements classified before parsing (sqlglot reads them loosely or not at all): SHOW and DESCRIBE
# pass when plain; SET is read by _classify_set(); transaction and lock control is refused in make().
_SPECIAL = re.compile(
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
_FIRST_WORD = re.compile(r"\s*\(*\s*([A-Za-z]+)")
_DRIVER_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")
_NAMED_PLACEHOLDER = re.compile(r":_([pk])_?(\w+?)\b|%\(_([pk])_?(\w+?)\)s")

# The shape of a read: quoted identifiers are kept, each string literal is reduced to its opening
# quote, numbers and ``%s`` arguments are dropped; keywords and unquoted names are untouched (a digit
# inside a name is never taken for a number). Identifiers and keywords survive verbatim and in order,
# so two statements of one shape read the same tables. Constructs whose lexing could differ from the
# server's (comments; PostgreSQL dollar quoting, escape strings) are found on the shape, which is then
# not used: the statement is parsed exactly.
_MYSQL_SHAPE = re.compile(
    r"""`(?:[^`]|``)*`|'(?:[^'\\]|\\.|'')*'"""
    r'''|"(?:[^"\\]|\\.|"")*"'''
    r"""|(?<![\w$.`])(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)(?![\w$])|%\(\w+\)s|%s""",
    re.DOTALL,
)
_POSTGRES_SHAPE = re.compile(
    r"""\"(?:[^"]|"")*"|'(?:[^']|'')*'"""
    r"""|(?<![\w$."])(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)(?![\w$])|%\(\w+\)s|%s""",
    re.DOTALL,
)


# datajoint names each subquery with a fresh alias (`$1f`, "_aggr3") from a global counter; the same
# query shape must not become a new shape per alias. Only an alias standing alone (no "." on either
# side, so not a schema or table name) is normalised.
_SUBQUERY_ALIAS = re.compile(r"[`\"](?:\$[0-9a-f]+|_aggr\d+)[`\"]")


def _alias(text: str, match: re.Match) -> str:
    if _SUBQUERY_ALIAS.fullmatch(text):
        string, start, end = match.string, match.start(), match.end()
        if (start == 0 or string[start - 1] != ".") and (end == len(string) or string[end] != "."):
            return text[0] + "$" + text[0]
    return text


def _mysql_piece(match: re.Match) -> str:
    text = match.group(0)
    first = text[0]
    if first == "`":
        return _alias(text, match) if len(text) > 2 and text[1] in "$_" else text
    return first if first in "'\"" else ""


def _postgres_piece(match: re.Match) -> str:
    text = match.group(0)
    first = text[0]
    if first == '"':
        return _alias(text, match) if len(text) > 2 and text[1] in "$_" else text
    return first if first == "'" else ""


_MYSQL_COMMENT = re.compile(r"--|/\*|(?:`[^`]*`|[^`#])*+#")
_POSTGRES_UNSAFE = re.compile(r"--|/\*|[\w&]'")
_POSTGRES_DOLLAR = re.compile(r'(?:"[^"]*"|[^"$])*+\$')  # a $ outside "quoted names": $$…$$, $1


@dataclass(frozen=True)
class Slot:
    """One value of a written row: a driver argument, a literal, DEFAULT, or an expression."""

    kind: str  # "arg" | "literal" | "default" | "expr"
    value: Any = None  # ArgKey for "arg", the Python value for "literal", SQL text for "expr"


@dataclass(frozen=True)
class InsertInfo:
    """An INSERT/REPLACE: target, column list (None: all columns in table order), and its rows."""

    table: TableName
    columns: tuple[str, ...] | None
    rows: tuple[tuple[Slot, ...], ...] | None = None  # VALUES rows
    source_sql: str | None = None  # INSERT … SELECT: the source, columns named _djr_c0.., driver SQL
    source_args: tuple[ArgKey, ...] = ()
    source_star: bool = False  # the source projects *: fetch its rows and match columns by position
    on_conflict: tuple[tuple[str, Slot], ...] = ()  # ON DUPLICATE KEY UPDATE / ON CONFLICT DO UPDATE
    # REPLACE (deletes every row the new one collides with, through any unique index) or an ON DUPLICATE KEY /
    # ON CONFLICT update that changes values (updates the row it collides with, through any unique index)
    replace: bool = False


@dataclass(frozen=True)
class ModifyInfo:
    """An UPDATE or DELETE: which rows it touches (target + WHERE) and what it assigns."""

    table: TableName
    target_sql: str  # the target as it appears in FROM (with alias)
    where_sql: str | None  # driver SQL of the condition (``%s`` placeholders), None: every row
    where_args: tuple[ArgKey, ...] = ()
    assignments: tuple[tuple[str, Slot], ...] = ()
    verb: str = "update"  # "update" | "delete"
    tail_sql: str = ""  # ORDER BY / LIMIT of a MySQL single-table UPDATE/DELETE (driver SQL, no arguments)
    pinned_sql: str = ""  # the statement with its WHERE replaced by PIN_MARKER, ORDER BY/LIMIT dropped
    pinned_args: tuple[ArgKey, ...] = ()  # the arguments of pinned_sql before the marker (assignments)


@dataclass(frozen=True)
class Statement:
    """What one statement does. ``kind``: pass | read | write | ddl | unclassifiable."""

    kind: str
    reads: frozenset[TableName] = frozenset()
    writes: frozenset[TableName] = frozenset()
    reason: str = ""
    inserts: tuple[InsertInfo, ...] = ()
    modifies: tuple[ModifyInfo, ...] = ()
    # catalogue statistics read: (schema, table) slots of the tables whose statistics are read — reads of them
    statistics: tuple[tuple[Slot, Slot], ...] = ()
    # names written before "(" (a word in a literal may be counted too: that only asks the stored-routine
    # list once more), checked against the stored functions that could answer to them
    calls: frozenset[str] = frozenset()
    several: bool = False  # several statements in one call (an UPDATE/DELETE among them cannot be pinned)
    extra: dict = field(default_factory=dict, compare=False)


PASS = Statement("pass")


def dialect_of(backend: str) -> str:
    return "postgres" if backend in ("postgresql", "postgres") else "mysql"


def classify(sql: str, backend: str = "mysql") -> Statement:
    """Tables read and written by ``sql`` as the driver receives it (``%s`` arguments)."""
    return _classify(sql, dialect_of(backend))


_shapes: dict[tuple[str, str], Statement] = {}
_SHAPES_KEPT = 8192
parses = 0  # statements parsed by sqlglot since the last cache_clear() (bench and tests)


def cache_clear() -> None:
    global parses
    _classify.cache_clear()
    _shapes.clear()
    parses = 0


@lru_cache(maxsize=8192)
def _classify(sql: str, dialect: str) -> Statement:
    if dialect == "mysql" and "/*" in sql and has_executable_comment(sql):
        return _unclassifiable("it holds a MySQL executable comment (/*! … */ or /*M! … */), which the server "
                               "runs but a parser reads as a comment")
    committing = _IMPLICIT_COMMIT.match(sql)
    if committing:
        return implicit_commit(" ".join(committing.group(0).split()).upper())
    special = _SPECIAL.match(sql)
    if special:
        return _classify_special(sql, dialect, " ".join(special.group(1).upper().split()))
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


# MySQL lexemes in which "/*!" is not an executable comment: strings, quoted names, line comments; and
# block comments, whose opening tells (/*! and /*M! run their content, MariaDB's versioned /*!50100 too).
_MYSQL_LEXEMES = re.compile(
    r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`|\#[^\n]*|--\s[^\n]*|/\*(M?!)?.*?(?:\*/|\Z)""", re.DOTALL
)


def has_executable_comment(sql: str) -> bool:
    """Whether ``sql`` holds a MySQL/MariaDB executable comment outside strings and names."""
    return any(match.group(1) for match in _MYSQL_LEXEMES.finditer(sql))


_TRANSACTION_WORDS = frozenset({"START TRANSACTION", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "END",
                                "ABORT", "XA", "LOCK", "UNLOCK", "PREPARE TRANSACTION"})


def transaction_control(what: str) -> Statement:
    return Statement("forbidden", reason=(
        f"transaction or lock control ({what}); make() runs inside the engine's transaction, which only the "
        "engine commits or rolls back"))


def _classify_special(sql: str, dialect: str, word: str) -> Statement:
    if word in _TRANSACTION_WORDS:
        return transaction_control(word)
    if word == "SET":
        return _classify_set(sql, dialect)
    if word == "SHOW":
        if _SHOW_EXPRESSION.search(sql.strip().rstrip(";")):
            return _unclassifiable("a SHOW with an expression (a subquery or function can read any table)")
        if not _SHOW_METADATA[dialect].match(sql):
            return Statement("forbidden", reason=(
                "a SHOW of server state or statistics (SHOW TABLE STATUS, INDEX, STATUS, PROCESSLIST, ENGINE…: row "
                "counts, cardinalities and other sessions' statements reveal other tables' contents)"))
        return PASS
    if _PLAIN_DESCRIBE.match(sql):  # DESCRIBE table [column]; DESCRIBE of a query is parsed
        return PASS
    return _analyse(sql, dialect)


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
_IMPLICIT_COMMIT = re.compile(
    r"\s*(?:RENAME|ANALYZE|OPTIMIZE|REPAIR|CHECK|CHECKSUM|RESET|INSTALL|UNINSTALL|CACHE\s+INDEX|"
    r"LOAD\s+INDEX|PURGE|KILL|SHUTDOWN|BACKUP|CHANGE\s+(?:MASTER|REPLICATION)|START\s+(?:SLAVE|REPLICA)|"
    r"STOP\s+(?:SLAVE|REPLICA)|(?:CREATE|DROP|ALTER|RENAME)\s+(?:USER|ROLE|SERVER|EVENT|FUNCTION|PROCEDURE|"
    r"TRIGGER|DATABASE|SCHEMA|TABLESPACE|LOGFILE|SEQUENCE|PACKAGE)|CREATE\s+(?:OR\s+REPLACE\s+|"
    r"DEFINER\s*=\s*\S+\s+|AGGREGATE\s+)+(?!TABLE|VIEW|INDEX|TEMPORARY)|VACUUM|CLUSTER|"
    r"REINDEX|CHECKPOINT|DISCARD|REFRESH|SECURITY\s+LABEL|REASSIGN|IMPORT|COPY|LISTEN|NOTIFY|UNLISTEN)\b",
    re.IGNORECASE,
)


def implicit_commit(what: str) -> Statement:
    return Statement("forbidden", reason=(
        f"{what}, a statement that commits the open transaction by itself (or administers the server); make() "
        "runs in the engine's transaction, which only the engine commits"))


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
_SET_SCOPES = frozenset({"session", "local"})


def _set_tokens(sql: str, dialect: str) -> list[tuple[str, str]] | None:
    body = sql.strip().removesuffix(";")
    pattern = _SET_TOKEN[dialect]
    tokens, position, end = [], 0, len(body)
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
    cannot = _unclassifiable("a SET whose values are not plain literals or names (a subquery, function or "
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
            return cannot if verdict == "cannot" else verdict
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


_SPACED_DOT = re.compile(r"\s\.|\.\s")


def shape_of(sql: str, dialect: str) -> str | None:
    """The statement with its literals reduced (the shape-cache key), or None: parse it exactly.
    A qualified name written with spaces (`db` . `t`, db . 2e5) is never shaped: a dropped number could be
    a name, and two tables would share one entry."""
    postgres = dialect == "postgres"
    quote = '"' if postgres else "`"
    if "'" not in sql and (postgres or '"' not in sql) and quote * 2 not in sql and "\0" not in sql:
        pieces = sql.split(quote)
        if len(pieces) % 2:  # balanced quotes
            return _plain_shape(sql, pieces, quote, postgres)
    return _regex_shape(sql, postgres)


def _regex_shape(sql: str, postgres: bool) -> str | None:
    """The general path of :func:`shape_of` (any statement)."""
    if postgres:
        shape = _POSTGRES_SHAPE.sub(_postgres_piece, sql)
        return None if (_POSTGRES_UNSAFE.search(shape) or _POSTGRES_DOLLAR.match(shape)
                        or _SPACED_DOT.search(shape)) else shape
    shape = _MYSQL_SHAPE.sub(_mysql_piece, sql)
    return None if _MYSQL_COMMENT.match(shape) or "--" in shape or "/*" in shape or _SPACED_DOT.search(shape) else shape


# What datajoint sends for numeric keys has no string literal and no doubled quote in a name. Split at
# the identifier quote, such a statement alternates text outside names (even pieces) and names (odd
# pieces), so the regex runs on the outside text only, where it finds just the numbers and ``%s`` to
# drop (NUL joins the pieces: it stands for a name next to a number). The result equals the regex
# shape above at a fraction of its cost, which is a Python call per quoted name.
# (The look-behind follows the first character, so the regex engine skips to digits, dots and %.)
_PLAIN_LITERAL = re.compile(
    r"\d(?<![\w$.\0]\d)\d*\.?\d*(?:[eE][+-]?\d+)?(?![\w$])|\.(?<![\w$.\0]\.)\d+(?![\w$])|%\(\w+\)s|%s"
)
_ALIAS_NAME = re.compile(r"\$[0-9a-f]+|_aggr\d+")


def _plain_shape(text: str, pieces: list[str], quote: str, postgres: bool) -> str | None:
    outside = _PLAIN_LITERAL.sub("", "\0".join(pieces[0::2]))
    if "$" in outside if postgres else "#" in outside:  # PostgreSQL $$…$$ or $1; a MySQL # comment
        return None
    aliases = []  # fresh subquery aliases standing alone, as _alias() finds them
    if quote + "$" in text or quote + "_aggr" in text:
        aliases = [index for index in range(1, len(pieces), 2) if _ALIAS_NAME.fullmatch(pieces[index])
                   and not pieces[index - 1].endswith(".") and not pieces[index + 1].startswith(".")]
    pieces[0::2] = outside.split("\0")
    for index in aliases:
        pieces[index] = "$"
    shape = quote.join(pieces)
    return None if "--" in shape or "/*" in shape or _SPACED_DOT.search(shape) else shape


def _to_named(sql: str) -> str:
    """Driver placeholders -> sqlglot named placeholders (``:_p0``, ``:_k_name``); ``%%`` -> ``%``."""
    counter = iter(range(1 << 30))

    def replace(match: re.Match) -> str:
        if match.group(0) == "%%":
            return "%"
        if match.group(1):
            return f":_k_{match.group(1)}"
        return f":_p{next(counter)}"

    return _DRIVER_PLACEHOLDER.sub(replace, sql)


def _to_driver(generated: str) -> tuple[str, tuple[ArgKey, ...]]:
    """sqlglot output with named placeholders -> driver SQL with ``%s`` and the argument keys in order."""
    keys: list[ArgKey] = []
    escaped = generated.replace("%", "%%")

    def replace(match: re.Match) -> str:
        kind = match.group(1) or match.group(3)
        name = match.group(2) or match.group(4)
        keys.append(int(name) if kind == "p" else name)
        return "%s"

    pattern = re.compile(r":_([pk])_?(\w+?)\b|%%\(_([pk])_?(\w+?)\)s")
    return pattern.sub(replace, escaped), tuple(keys)


def _unclassifiable(reason: str) -> Statement:
    return Statement("unclassifiable", reason=reason)


def _identifier(node: Any, dialect: str = "mysql") -> str:
    """A name as the server resolves it: PostgreSQL folds unquoted names to lower case; MySQL compares
    schema and table names as written (case-sensitive on Linux)."""
    if node is None:
        return ""
    if isinstance(node, exp.Identifier):
        return node.this.lower() if dialect == "postgres" and not node.quoted else node.this
    return str(getattr(node, "name", node))


def _column(node: Any) -> str:
    """Column names are case-insensitive in MySQL and datajoint's are lower case."""
    return _identifier(node).lower()


def _table_name(table: exp.Table, cte_refs: set[int], dialect: str) -> TableName | None:
    """(schema, table) of a table reference; None for table functions, MySQL's unquoted DUAL and the
    references that sqlglot's scope analysis resolved to a CTE (``cte_refs``: ids of Table nodes).
    A back-quoted `dual` is a real table."""
    if not isinstance(table.this, exp.Identifier) or id(table) in cte_refs:
        return None
    name = _identifier(table.this, dialect)
    schema = _identifier(table.args.get("db"), dialect)
    if not schema and not table.this.quoted and name.lower() == "dual":
        return None
    return (schema, name)


def cte_references(tree: exp.Expression) -> set[int]:
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


def is_framework(name: TableName, dialect: str) -> bool:
    """A table whose reads never need checking: system catalogs and datajoint's hidden tables."""
    schema, table = name
    if schema.lower() in SYSTEM_SCHEMAS or table.startswith("~"):
        return True
    return dialect == "postgres" and not schema and table in PG_CATALOG_RELATIONS


def _write_targets(tree: exp.Expression) -> tuple[list[exp.Table], list[str]]:
    """Table nodes written by INSERT/UPDATE/DELETE/MERGE anywhere in ``tree``, and what cannot be checked."""
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


PIN_MARKER = "DJR_PINNED_ROWS"  # stands for the primary-key condition of a pinned UPDATE/DELETE
_REPLACE = re.compile(r"^(\s*)REPLACE(\s)", re.IGNORECASE)


def _analyse(sql: str, dialect: str, shape_only: bool = False) -> Statement:
    global parses
    parses += 1
    text = sql if shape_only else _to_named(sql)
    # sqlglot reads MySQL's REPLACE INTO as an opaque command; for the gate it writes rows like INSERT
    replaced = _REPLACE.match(text) is not None
    text = _REPLACE.sub(r"\1INSERT\2", text, count=1)
    try:
        trees = sqlglot.parse(text, read=dialect)
    except Exception as error:  # noqa: BLE001 - sqlglot raises ParseError, TokenError and, rarely, others
        return _unclassifiable(f"sqlglot cannot parse it ({type(error).__name__}: {str(error).splitlines()[0]})")
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
            if word in _TRANSACTION_WORDS:
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
                name = _table_name(table, cte_names, dialect)
                if name is not None and not is_framework(name, dialect):
                    reads.add(name)
            continue
        if isinstance(tree, (exp.Drop, exp.Create, exp.Alter, exp.TruncateTable, exp.Comment, exp.Grant,
                             exp.Revoke)) or (isinstance(tree, exp.Select) and tree.args.get("into")):
            ddl = True
            found = len(writes)
            for table in tree.find_all(exp.Table):
                name = _table_name(table, cte_names, dialect)
                if name is not None:
                    writes.add(name)
            column = tree.this if isinstance(tree, exp.Comment) else None
            if isinstance(column, exp.Column) and column.table:  # COMMENT ON COLUMN [schema.]table.column
                writes.add((_identifier(column.args.get("db"), dialect), _identifier(column.args["table"], dialect)))
            if len(writes) == found and not isinstance(tree, (exp.Create, exp.Select)):
                problems.append(f"a {tree.key.upper()} whose table it cannot name")
            if isinstance(tree, exp.Create) and isinstance(tree.expression, exp.Query):
                for table in tree.expression.find_all(exp.Table):
                    name = _table_name(table, cte_names, dialect)
                    if name is not None:
                        reads.add(name)
            continue
        targets, target_problems = _write_targets(tree)
        problems.extend(target_problems)
        target_ids = {id(t) for t in targets}
        for table in tree.find_all(exp.Table):
            name = _table_name(table, set() if id(table) in target_ids else cte_names, dialect)
            if name is None or isinstance(table.parent, exp.Lock):  # FOR UPDATE OF t names a table read already
                continue
            if id(table) in target_ids:
                writes.add(name)
            elif not is_framework(name, dialect):
                reads.add(name)
            else:
                statistics = _statistics_read(tree, table, name, dialect)
                if statistics is not None:
                    if isinstance(statistics, str):
                        problems.append(statistics)
                    else:
                        pins.append(statistics)
        for function in tree.find_all(exp.Anonymous):
            fname = str(function.this).lower()
            if fname not in SAFE_FUNCTIONS or isinstance(function.parent, exp.Dot):
                problems.append(f"it calls {function.this}(), which may read any table")
        if targets and not shape_only and not target_problems:
            try:
                _describe_writes(tree, dialect, cte_names, inserts, modifies, replaced=replaced and len(trees) == 1)
            except _Unverifiable as error:
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


class _Unverifiable(Exception):
    pass


def volatile(node: exp.Expression | None) -> str | None:
    """What in ``node`` can change value between the gate's check query and the write (None: nothing)."""
    if node is None:
        return None
    for part in node.walk():
        if isinstance(part, _VOLATILE_NODES):
            if isinstance(part, (exp.Parameter, exp.PropertyEQ)):
                return "a user variable"
            return f"{part.sql_name()}()"
        if isinstance(part, exp.Anonymous) and str(part.this).lower() in VOLATILE_FUNCTIONS:
            return f"{part.this}()"
        if isinstance(part, exp.SessionParameter):
            return "a server variable (@@…)"
        if isinstance(part, exp.Table) and isinstance(part.this, exp.Identifier):
            schema = _identifier(part.args.get("db")).lower()
            if schema in SYSTEM_SCHEMAS or (not schema and part.name.lower().startswith("pg_")):
                return f"a read of server state ({part.sql()})"  # PROCESSLIST, session status, pg_stat_*
    return None


def _require_stable(node: exp.Expression | None, clause: str) -> None:
    what = volatile(node)
    if what is not None:
        raise _Unverifiable(f"{clause} uses {what}, whose value can change between the gate's check of the rows "
                            "and the write itself")


def _slot(node: exp.Expression, dialect: str) -> Slot:
    if isinstance(node, exp.Cast) and isinstance(node.this, (exp.Placeholder, exp.Literal)) and node.to.this in (
            exp.DataType.Type.TIMESTAMP, exp.DataType.Type.DATE, exp.DataType.Type.TIME, exp.DataType.Type.DATETIME,
            exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.DECIMAL, exp.DataType.Type.TEXT):
        node = node.this  # psycopg2 sends dates as '2024-03-01'::date: the value is the literal's
    if isinstance(node, exp.Placeholder):
        name = str(node.this)
        if name.startswith("_p") and name[2:].isdigit():
            return Slot("arg", int(name[2:]))
        if name.startswith("_k_"):
            return Slot("arg", name[3:])
    if isinstance(node, exp.Null):
        return Slot("literal", None)
    if isinstance(node, exp.Var) and node.name.upper() == "DEFAULT" or isinstance(node, exp.DefaultColumnConstraint):
        return Slot("default")
    if isinstance(node, exp.Boolean):
        return Slot("literal", bool(node.this))
    if isinstance(node, exp.Literal):
        if node.is_string:
            return Slot("literal", node.this)
        try:
            return Slot("literal", Decimal(node.this))
        except InvalidOperation:
            return Slot("expr", node.sql(dialect))
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        return Slot("literal", -Decimal(node.this.this))
    if isinstance(node, exp.Column):
        return Slot("expr", node.name.lower())  # a column reference: "column" in assignments
    if isinstance(node, exp.Values) or (isinstance(node, exp.Anonymous) and str(node.this).upper() == "VALUES"):
        inner = node.expressions[0] if node.expressions else None
        if isinstance(inner, exp.Column):
            return Slot("expr", inner.name.lower())
    return Slot("expr", node.sql(dialect))


def _assignments(expressions: list[exp.Expression], dialect: str) -> tuple[tuple[str, Slot], ...]:
    result = []
    for assignment in expressions:
        if isinstance(assignment, exp.EQ) and isinstance(assignment.this, exp.Column):
            result.append((assignment.this.name.lower(), _slot(assignment.expression, dialect)))
        else:
            raise _Unverifiable(f"an assignment it cannot read ({assignment.sql(dialect)})")
    return tuple(result)


def _leftmost_select(query: exp.Expression) -> exp.Select | None:
    while isinstance(query, (exp.Union, exp.Except, exp.Intersect, exp.Subquery)):
        query = query.this
    return query if isinstance(query, exp.Select) else None


def _describe_writes(tree, dialect, cte_names, inserts, modifies, replaced: bool = False) -> None:
    for node in tree.find_all(exp.Insert, exp.Update, exp.Delete, exp.Merge):
        if isinstance(node, exp.Merge):
            raise _Unverifiable("a MERGE")
        if isinstance(node, exp.Insert):
            target = node.this
            columns = None
            if isinstance(target, exp.Schema):
                columns = tuple(_column(c) for c in target.expressions)
                target = target.this
            name = _table_name(target, set(), dialect)
            conflict: tuple[tuple[str, Slot], ...] = ()
            changes = False  # an ON DUPLICATE KEY UPDATE / DO UPDATE that changes a value (not a = a)
            for key in ("conflict", "on_conflict", "duplicate"):
                clause = node.args.get(key)
                if clause is not None and clause.args.get("expressions"):
                    conflict = _assignments(clause.args["expressions"], dialect)
                    changes = changes or any(
                        not (isinstance(e, exp.EQ) and isinstance(e.expression, exp.Column)
                             and e.expression.name.lower() == e.this.name.lower()
                             and e.expression.table.lower() not in ("excluded",))
                        for e in clause.args["expressions"])
            source = node.expression
            if isinstance(source, exp.Values):
                rows = []
                for row in source.expressions:
                    values = row.expressions if isinstance(row, exp.Tuple) else [row]
                    rows.append(tuple(_slot(v, dialect) for v in values))
                inserts.append(InsertInfo(name, columns, rows=tuple(rows), on_conflict=conflict, replace=replaced or changes))
            elif isinstance(source, exp.Query):
                _require_stable(source, "the source of an INSERT … SELECT")
                if any(source.find_all(exp.Limit, exp.Offset, exp.Fetch)):
                    raise _Unverifiable("an INSERT … SELECT with LIMIT/OFFSET (the rows the gate checks and the rows "
                                        "the server inserts could differ)")
                select = source.copy()
                first = _leftmost_select(select)
                if first is None:
                    raise _Unverifiable("an INSERT from a source it cannot read")
                star = any(isinstance(p, exp.Star) or (isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
                           for p in first.expressions)
                # renaming the projected columns would change what GROUP BY/HAVING/ORDER BY (and a union's
                # other branches) refer to: then the source is checked as written, its columns by position
                star = star or first is not select or any(first.args.get(k) for k in ("group", "having", "order",
                                                                                          "qualify", "windows"))
                if not star:
                    first.set(
                        "expressions",
                        [exp.alias_(p.this if isinstance(p, exp.Alias) else p, f"_djr_c{i}", quoted=True)
                         for i, p in enumerate(first.expressions)],
                    )
                source_sql, source_args = _to_driver(select.sql(dialect))
                inserts.append(InsertInfo(name, columns, source_sql=source_sql, source_args=source_args,
                                          source_star=star, on_conflict=conflict, replace=replaced or changes))
            elif source is None and node.args.get("default"):
                inserts.append(InsertInfo(name, columns, rows=((),), on_conflict=conflict, replace=replaced or changes))
            else:
                raise _Unverifiable("an INSERT whose rows it cannot read")
            continue
        target = node.this
        name = _table_name(target, set(), dialect)
        if name is None:
            raise _Unverifiable(f"a {node.key.upper()} of something other than a table")
        if node.args.get("using") or node.args.get("from_") or node.args.get("from"):
            raise _Unverifiable(f"a {node.key.upper()} joined to other tables")
        where = node.args.get("where")
        _require_stable(where, f"the WHERE clause of {node.key.upper()}")
        where_sql, where_args = (None, ())
        if where is not None:
            where_sql, where_args = _to_driver(where.this.sql(dialect))
        assignments = _assignments(node.expressions, dialect) if isinstance(node, exp.Update) else ()
        target_sql, _ = _to_driver(target.sql(dialect))
        tail = [node.args[k].sql(dialect) for k in ("order", "limit") if node.args.get(k) is not None]
        tail_sql, tail_args = _to_driver(" ".join(tail))
        if tail_args:
            raise _Unverifiable(f"a {node.key.upper()} whose ORDER BY/LIMIT holds arguments")
        # the statement the server runs: the same assignments, restricted to the primary keys checked
        pinned = node.copy()
        pinned.set("where", exp.Where(this=exp.Anonymous(this=PIN_MARKER)))
        pinned.set("order", None)
        pinned.set("limit", None)
        pinned_sql, pinned_args = _to_driver(pinned.sql(dialect))
        modifies.append(ModifyInfo(name, target_sql, where_sql, where_args, assignments, node.key, tail_sql,
                                   pinned_sql, pinned_args))


# ---------------------------------------------------------------- the statement as the server receives it
# The gate classifies the text the driver produced (its own escaping applied to the arguments) and sends
# exactly that text. To keep one parse per statement *form*, that text's literals are lifted back out:
# each string, hex string and number becomes a ``%s`` and its decoded value an argument, with the server's
# lexing (MySQL: backslash escapes and doubled quotes; PostgreSQL: standard-conforming strings). Anything
# this lexer does not read plainly (comments, introducers such as _binary'…' or E'…', $-quoting) is not
# lifted: the exact text is parsed.
_MYSQL_LEXEME = re.compile(
    r"""(?P<name>`(?:[^`]|``)*`)|(?P<hex>(?<![\w$])[xX]'[0-9a-fA-F]*')|(?P<str>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")"""
    r"""|(?P<num>(?<![\w$.])(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)(?![\w$.]))|(?P<pct>%)""",
    re.DOTALL,
)
_POSTGRES_LEXEME = re.compile(
    r"""(?P<name>"(?:[^"]|"")*")|(?P<str>'(?:[^']|'')*')"""
    r"""|(?P<num>(?<![\w$.])(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)(?![\w$.]))|(?P<pct>%)""",
    re.DOTALL,
)
_MYSQL_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a", "%": "\\%", "_": "\\_"}
_MYSQL_ESCAPE = re.compile(r"\\(.)|''|\"\"", re.DOTALL)


def _mysql_string(body: str) -> str:
    return _MYSQL_ESCAPE.sub(lambda m: _MYSQL_ESCAPES.get(m.group(1), m.group(1)) if m.group(1) is not None
                             else m.group(0)[0], body)


def _beside(text: str, index: int, step: int) -> str:
    """The first character at ``index`` or beyond (in direction ``step``) that is not white space."""
    while 0 <= index < len(text) and text[index].isspace():
        index += step
    return text[index] if 0 <= index < len(text) else ""


def parameterize(text: str, dialect: str) -> tuple[str, tuple] | None:
    """(``text`` with its literals as ``%s`` and every other ``%`` doubled, the literals' values), or None
    when ``text`` holds something this lexer does not read plainly (then parse ``text`` itself)."""
    postgres = dialect == "postgres"
    values: list[Any] = []
    pieces: list[str] = []
    position = 0
    pattern = _POSTGRES_LEXEME if postgres else _MYSQL_LEXEME
    for match in pattern.finditer(text):
        kind = match.lastgroup
        start = match.start()
        pieces.append(text[position:start])
        position = match.end()
        body = match.group(0)
        if kind == "name":
            pieces.append(body)
        elif kind == "pct":
            pieces.append("%%")
        elif kind == "num":
            if _beside(text, start - 1, -1) == "." or _beside(text, position, 1) == ".":
                return None  # `db` . 2e5: a name after a spaced dot, not a number
            values.append(int(body) if body.isdigit() else Decimal(body))
            pieces.append("%s")
        elif kind == "hex":
            values.append(bytes.fromhex(body[2:-1]))
            pieces.append("%s")
        else:
            if start and (text[start - 1].isalnum() or text[start - 1] in "_$&"):
                return None  # an introducer or prefix: _binary'…', N'…', E'…', U&'…'
            values.append(body[1:-1].replace("''", "'") if postgres else _mysql_string(body[1:-1]))
            pieces.append("%s")
    pieces.append(text[position:])
    template = "".join(pieces)
    if not ("--" in template or "/*" in template or any(c in template for c in "'\"\\#$")):
        return template, tuple(values)  # nothing outside the lifted literals needs a second look
    outside = _MYSQL_LEXEME.sub("", template) if not postgres else _POSTGRES_LEXEME.sub("", template)
    if "--" in outside or "/*" in outside or (("$" in outside) if postgres else ("#" in outside)):
        return None
    if "'" in outside or (not postgres and '"' in outside) or "\\" in outside:
        return None  # an unbalanced quote: not a plain statement
    return template, tuple(values)


_NOT_CALLS = frozenset("""
    and or not in values exists select where from on using as when then else is by join any all some key
    primary lateral into table set case distinct union except intersect limit offset over filter within having
    group order with recursive returning update delete insert replace row array like between if
    """.split())  # noqa: SIM905


def called_names(template: str) -> frozenset[str]:
    """Lower-case words written before "(" (functions a statement may call)."""
    names = set()
    for piece in template.split("(")[:-1]:
        piece = piece.rstrip()
        end = start = len(piece)
        while start and (piece[start - 1].isalnum() or piece[start - 1] in "_$"):
            start -= 1
        if start < end and not piece[start].isdigit():
            name = piece[start:end].lower()
            if name not in _NOT_CALLS:
                names.add(name)
    return frozenset(names)


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
    if not (_SPECIAL.match(text) or _IMPLICIT_COMMIT.match(text)):
        lifted = parameterize(text, dialect)
        if lifted is not None:
            statement = _classify(lifted[0], dialect)
            if not (statement.kind == "unclassifiable" and statement.reason.startswith(_PARSE_FAILED)):
                return statement, lifted[1]
    return _classify(text.replace("%", "%%"), dialect), ()



