"""What the server itself provides: built-in functions, system schemas and catalogue statistics.

The classifier asks this module which function calls read no table (:data:`SAFE_FUNCTIONS`), which
values may change between the gate's check and the write (:func:`volatile`), which relations are the
framework's own (:func:`is_framework`), and whether a catalogue read reveals other tables' contents
(:func:`statistics_read`).
"""

from __future__ import annotations

from sqlglot import exp

from djlint.sqltables import TableName, identifier

from .statement import Slot, slot

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
STATISTICS_COLUMNS = {
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


def statistics_read(tree: exp.Expr, table: exp.Table, name: TableName, dialect: str
                    ) -> tuple[Slot, Slot] | str | None:
    """None: ``table`` (a catalogue relation) is read for metadata only. Else a (schema, table) pair of slots
    naming the one table whose statistics the query reads, or a reason to refuse it."""
    schema, relation = name[0].lower(), name[1].lower()
    if dialect == "postgres" and not schema and relation.startswith("pg_"):
        schema = "pg_catalog"
    if dialect == "postgres" and schema == "information_schema":
        return None  # PostgreSQL's information_schema holds no statistics
    key = (schema, relation)
    columns = STATISTICS_COLUMNS.get(key)
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


def _pinned_slots(tree: exp.Expr, table: exp.Table, pin: tuple[str, str], dialect: str
                  ) -> tuple[Slot, Slot] | None:
    """The literal or argument each of ``pin``'s columns *of ``table``* equals in a top-level AND of
    ``tree``'s WHERE (a column of another relation of the query pins nothing)."""
    if not isinstance(tree, exp.Select):
        return None
    select = tree
    where = select.args.get("where")
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
            value = slot(condition.expression, dialect)
            if column in pin and value.kind in ("arg", "literal"):
                found[column] = value
    if all(column in found for column in pin):
        return found[pin[0]], found[pin[1]]
    return None


def is_framework(name: TableName, dialect: str) -> bool:
    """A table whose reads never need checking: system catalogs and datajoint's hidden tables."""
    schema, table = name
    if schema.lower() in SYSTEM_SCHEMAS or table.startswith("~"):
        return True
    return dialect == "postgres" and not schema and table in PG_CATALOG_RELATIONS


def volatile(node: exp.Expr | None) -> str | None:
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
            schema = identifier(part.args.get("db")).lower()
            if schema in SYSTEM_SCHEMAS or (not schema and part.name.lower().startswith("pg_")):
                return f"a read of server state ({part.sql()})"  # PROCESSLIST, session status, pg_stat_*
    return None
