"""Names the make() interpreter knows: datajoint's read/write/query methods, one-shot builders, connection
openers, and datajoint's table-name convention (to map raw SQL back to table classes)."""

from __future__ import annotations

# Methods that fetch the table's rows (datajoint 0.13/0.14 and 2.x).
READ_METHODS = frozenset({
    "fetch", "fetch1", "to_dicts", "to_arrays", "to_pandas", "to_polars", "to_arrow", "keys",
    "head", "tail", "cursor", "__len__", "__iter__", "__bool__", "__contains__", "__getitem__",
    "fetch_dataframe",
})
# Methods that build a new query expression from the table (the table is an operand).
QUERY_METHODS = frozenset({"restrict", "proj", "aggr", "join", "extend", "__and__", "__sub__", "__mul__", "__add__"})
# Methods whose other table arguments are operands too.
OPERAND_ARG_METHODS = frozenset({"restrict", "aggr", "join", "extend", "__and__", "__sub__", "__mul__", "__add__"})
# Methods that change the table.
WRITE_METHODS = frozenset({
    "insert", "insert1", "update1", "delete", "delete_quick", "drop", "drop_quick", "_update", "update",
    "insert_many",
})
ROW_WRITE_METHODS = frozenset({"insert", "insert1", "update1", "_update", "insert_many"})
# Attributes that describe the table without reading its rows.
METADATA = frozenset({
    "heading", "primary_key", "full_table_name", "table_name", "database", "describe", "definition",
    "connection", "parents", "children", "ancestors", "descendants", "parts", "key_source",
    "populate", "progress", "is_declared", "declare", "alter", "__name__", "__doc__",
    "jobs", "target", "log", "size_on_disk", "external", "tier", "class_name", "schema",
})

# Builtins that consume an iterable argument completely (iteration reads a table operand).
CONSUMING_BUILTINS = frozenset({
    "list", "tuple", "set", "frozenset", "sorted", "sum", "min", "max", "any", "all", "dict", "len",
})
# Builtins/itertools that return a one-shot iterator wrapping their iterable arguments.
ONE_SHOT_BUILTINS = frozenset({"map", "filter", "zip", "iter", "reversed", "enumerate"})
TRUTH_BUILTINS = frozenset({"bool"})

# Callables that open a database connection of their own (escaping the connection datajoint gates).
CONNECTION_OPENERS = frozenset({
    "pymysql.connect", "pymysql.Connect", "pymysql.connections.Connection", "pymysql.Connection",
    "MySQLdb.connect", "MySQLdb.Connect", "mysql.connector.connect", "mariadb.connect",
    "psycopg.connect", "psycopg.Connection.connect", "psycopg.AsyncConnection.connect",
    "psycopg2.connect", "psycopg2.extensions.connection",
    "sqlalchemy.create_engine", "sqlalchemy.engine.create_engine",
    "datajoint.Connection", "datajoint.connection.Connection",
})
FUNCTOOLS_PARTIAL = frozenset({"functools.partial"})
PARTIAL_ITERTOOLS = frozenset({"itertools.islice", "itertools.takewhile", "itertools.dropwhile"})
VIRTUAL_MODULE = frozenset({
    "datajoint.create_virtual_module", "datajoint.VirtualModule", "datajoint.virtual_module.create_virtual_module",
})
FREE_TABLE = frozenset({"datajoint.FreeTable", "datajoint.table.FreeTable"})
DJ_CONN = frozenset({"datajoint.conn", "datajoint.connection.conn"})


def from_camel_case(name: str) -> str | None:
    """The table name datajoint 2.3 gives a class name (``SpikeSorting`` -> ``spike_sorting``): underscores
    dropped, then each capital after the first preceded by ``_``; None for a name datajoint refuses
    (not ASCII letters and digits starting with a capital)."""
    letters = name.replace("_", "")
    if not (letters.isascii() and letters.isalnum() and letters[:1].isupper()):
        return None
    return "".join(f"_{char.lower()}" if char.isupper() and index else char.lower() for index, char in enumerate(letters))


TIER_PREFIX = {"Manual": "", "Lookup": "#", "Imported": "_", "Computed": "__"}


def table_name(qualname: str, tier: str, master_tier: str | None = None) -> str | None:
    """The database table name of a class (``Clustering.Unit`` Computed master -> ``__clustering__unit``)."""
    parts = qualname.split(".")
    if tier == "Part":
        if len(parts) < 2 or master_tier not in TIER_PREFIX:
            return None
        master, part = from_camel_case(parts[-2]), from_camel_case(parts[-1])
        return None if master is None or part is None else f"{TIER_PREFIX[master_tier]}{master}__{part}"
    if tier not in TIER_PREFIX:
        return None
    own = from_camel_case(parts[-1])
    return None if own is None else TIER_PREFIX[tier] + own
