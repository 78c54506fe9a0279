"""The datajoint API as the make() interpreter models it: table methods (``fetch``/``fetch1``... read,
``insert``/``insert1``/``update1``/``delete``... write, ``restrict``/``proj``/``aggr``/``join`` build a query),
the operators ``&`` ``^`` ``-`` ``*`` ``@`` ``+`` on query expressions, ``dj.U``/``dj.Not``/``dj.AndList``,
``dj.FreeTable``, ``dj.create_virtual_module``, connections opened inside make() (``dj.conn(reset=True)``,
``pymysql.connect``...), and raw SQL given to ``.query(...)`` (classified by ``sql.py``, tables mapped back
to classes by datajoint's naming convention).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import ClassVar

from djlint.makeflow import names as N
from djlint.makeflow.facts import Connect, Read, Write
from djlint.makeflow.frames import Args, ExternalCall, ExternalFamily, ExternalHandler, Frame, Kwargs
from djlint.makeflow.state import RunState
from djlint.makeflow.syntax import binds_receiver, constant_of
from djlint.makeflow.values import NOTHING, Const, Ext, Mod, Seq, Tab, Value, tables_in, unknowns_in


class DataJointApi(RunState):
    """datajoint's API: table methods, operators, connections, virtual modules, raw SQL."""

    def table_method(self, tab: Tab, name: str, node: ast.AST, positional: Args, keywords: Kwargs,
                     frame: Frame, through_class: bool = False) -> Value:
        if name in N.WRITE_METHODS:
            self.write(tab, node, frame, name)
            for value, arg in positional + list(keywords.values()):
                self.read(value, arg, frame, f"argument of {name}()", through_seq=False)
            if positional:
                self.consume(positional[0][0], positional[0][1], frame, f"{name}()")
                if name in N.ROW_WRITE_METHODS and tab.table in self.own_entity:
                    self.check_rows(positional[0][0], tab, name, frame)
            return NOTHING
        if name in N.READ_METHODS:
            self.read(frozenset({tab}), node, frame, name)
            return NOTHING
        if name in N.QUERY_METHODS:
            self.read(frozenset({tab}), node, frame, f".{name}()")
            result = {tab}
            if name in N.OPERAND_ARG_METHODS:
                for value, arg in positional:
                    self.read(value, arg, frame, f"argument of .{name}()")
                    if name in ("join", "__mul__", "__add__"):
                        result.update(tables_in(value))
            return frozenset(result)
        if name in N.METADATA and not self.user_method(tab.table, name):
            return NOTHING
        found = self.sources.method(tab.table, name)
        if found is None:
            return NOTHING
        module, function, info = found
        self_value = frozenset({tab}) if binds_receiver(function, through_class, len(positional)) else None
        return self.invoke(module, function, info.class_id, self_value, positional, keywords, node, frame)

    # datajoint operators: & ^ restrict, - antijoin, * @ join, + union
    _SYMBOLS: ClassVar[dict[type, str]] = {ast.BitAnd: "&", ast.BitXor: "^", ast.Sub: "-", ast.Mult: "*", ast.MatMult: "@", ast.Add: "+"}

    def ev_BinOp(self, node: ast.BinOp, frame: Frame, *, write_receiver: bool = False) -> Value:
        left = self.ev(node.left, frame, write_receiver=write_receiver)
        right = self.ev(node.right, frame)
        symbol = self._SYMBOLS.get(type(node.op))
        if symbol is None:
            return NOTHING
        left_tables = tables_in(left, through_seq=False)
        right_tables = tables_in(right, through_seq=symbol in "&^-")
        left_unknown = unknowns_in(left)
        if left_unknown or unknowns_in(right):
            self.note_unknowns(left | right)
        if not left_tables and not right_tables:
            if left_unknown and symbol in "&^-":
                return frozenset(left_unknown)
            sequences = [a for a in left | right if isinstance(a, Seq)]
            if symbol == "+" and left and right and len(sequences) == len(left | right):
                return frozenset({Seq(frozenset().union(*(a.items for a in sequences)))})
            return NOTHING
        how = f"operand of {symbol}"
        if not write_receiver:
            self.read(left, node.left, frame, how, through_seq=False)
        self.read(right, node.right, frame, how, through_seq=symbol in "&^-")
        if symbol in "&^-":
            return frozenset(left_tables or right_tables)
        return frozenset(left_tables + right_tables)

    def query_sql(self, value: Value, node: ast.AST, frame: Frame) -> None:
        """``connection.query(sql)``: the tables the SQL writes and reads (an f-string naming tables by their
        ``full_table_name``, or any string the argument may hold)."""
        if isinstance(node, ast.JoinedStr):
            self.formatted_sql(node, frame)
        else:
            self.raw_sql(value, node, frame)

    def raw_sql(self, value: Value, node: ast.AST, frame: Frame) -> None:
        for atom in value:
            if not (isinstance(atom, Const) and isinstance(atom.value, str)):
                continue
            written, read = classify_sql(atom.value)
            for database, table in written:
                target = self.table_of_sql(database, table)
                if target is not None:
                    self.fact_place(Write, "raw SQL", target, self.loc(frame, node), frame, node)
            for database, table in read:
                target = self.table_of_sql(database, table)
                if target is not None:
                    self.fact_place(Read, "raw SQL", target, self.loc(frame, node), frame, node)

    def formatted_sql(self, node: ast.JoinedStr, frame: Frame) -> None:
        """f"DELETE FROM {Table.full_table_name} ..." : the table is named by its class."""
        text: list[str] = []
        placeholders: dict[str, Tab] = {}
        for part in node.values:
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                text.append(part.value)
                continue
            expression = getattr(part, "value", None)
            tabs = []
            if isinstance(expression, ast.Attribute) and expression.attr == "full_table_name":
                tabs = tables_in(self.ev(expression.value, frame), through_seq=False)
            if len(tabs) == 1:
                name = f"djlint_table_{len(placeholders)}"
                placeholders[name] = tabs[0]
                text.append(f"`djlint_placeholder`.`{name}`")
            else:
                text.append("NULL")
        if not placeholders:
            return
        written, read = classify_sql("".join(text))
        for kind, names in (("write", written), ("read", read)):
            for database, table in names:
                tab = placeholders.get(table) if database == "djlint_placeholder" else None
                if tab is None:
                    continue
                self.fact_place(Write if kind == "write" else Read, "raw SQL", tab.table,
                                tab.origin or self.loc(frame, node), frame, node)

    def table_of_sql(self, database: str | None, name: str) -> str | None:
        """Map ``db``.``table`` back to a table class by schema and datajoint's naming convention."""
        if not database:
            return None
        candidates = []
        for table in self.model.tables.values():
            if table.schema != database:
                continue
            master_tier = self.model.tables[table.master].tier if table.master in self.model.tables else None
            if N.table_name(table.qualname, table.tier, master_tier) == name:
                candidates.append(table.id)
        return candidates[0] if len(candidates) == 1 else None

    # ------------------------------------------------------------------ datajoint's module-level callables
    def _open_connection(self, call: ExternalCall) -> Value:
        """``pymysql.connect(...)``, ``dj.Connection(...)``...: a connection of its own, outside the job's."""
        self.facts.add(Connect(self.owner, self.loc(call.frame, call.node), call.name))
        return NOTHING

    def _dj_conn(self, call: ExternalCall) -> Value:
        """``dj.conn(host, user, ...)`` returns the connection already open; only ``reset=True`` opens another."""
        reset = call.keywords.get("reset")
        literal = constant_of(reset[1]) if reset is not None else None
        if literal is not None and literal.value is True:
            self.facts.add(Connect(self.owner, self.loc(call.frame, call.node), "datajoint.conn(..., reset=True)"))
        return NOTHING

    def _virtual_module(self, call: ExternalCall) -> Value:
        """``m = dj.create_virtual_module("m", "schema")`` inside the analysed code: the module of that schema."""
        named = call.positional[1] if len(call.positional) > 1 else call.keywords.get("schema_name")
        literal = constant_of(named[1]) if named is not None else None
        modules = getattr(self.model, "_schema_modules", {})
        if literal is not None and isinstance(literal.value, str) and modules.get(literal.value):
            return frozenset({Mod(modules[literal.value][0], schema=literal.value)})
        return NOTHING

    def _free_table(self, call: ExternalCall) -> Value:
        """``dj.FreeTable(conn, "`db`.`table`")``: a table named by its database name."""
        named = call.positional[1] if len(call.positional) > 1 else call.keywords.get("full_table_name")
        literal = constant_of(named[1]) if named is not None else None
        if named is not None and literal is not None and isinstance(literal.value, str):
            parts = [p.strip("`\"") for p in literal.value.split(".")]
            target = self.table_of_sql(parts[0], parts[1]) if len(parts) == 2 else None
            if target is not None:
                return frozenset({Tab(target, self.placed(call.frame, self.loc(call.frame, named[1])))})
        return NOTHING

    def _universal_set_method(self, call: ExternalCall) -> Value:
        """``dj.U("attr").aggr(Table, ...)``: the arguments are operands."""
        method = call.name.rsplit(".", 1)[1]
        if method not in N.QUERY_METHODS:
            return NOTHING
        for value, arg in call.positional:
            self.read(value, arg, call.frame, f"argument of dj.U().{method}()")
        if not call.positional:
            return NOTHING
        return frozenset(tables_in(frozenset().union(*(v for v, _ in call.positional))))

    def _query_constructor(self, call: ExternalCall) -> Value:
        """``dj.Not(T)``, ``dj.AndList([...])``, ``dj.OrList``, ``dj.U(T)``, ``dj.Top``: the arguments are
        operands."""
        short = call.name.rsplit(".", 1)[1]
        for value, arg in call.positional:
            self.read(value, arg, call.frame, f"dj.{short}()")
        return frozenset({Ext("datajoint.U()")}) if call.name.endswith(".U") else NOTHING


SqlTable = tuple[str | None, str]   # (database or None, table name)

# datajoint's classes whose arguments are query operands (``datajoint.Not``, ``datajoint.expression.U``...)
QUERY_CONSTRUCTORS = frozenset({"Not", "AndList", "OrList", "U", "Top"})


def datajoint_calls() -> dict[str, ExternalHandler]:
    """datajoint's (and database drivers') callables, by fully qualified name."""
    return {
        **dict.fromkeys(N.CONNECTION_OPENERS, DataJointApi._open_connection),
        **dict.fromkeys(N.DJ_CONN, DataJointApi._dj_conn),
        **dict.fromkeys(N.VIRTUAL_MODULE, DataJointApi._virtual_module),
        **dict.fromkeys(N.FREE_TABLE, DataJointApi._free_table),
    }


def datajoint_families() -> list[ExternalFamily]:
    """Methods of ``dj.U(...)``, then the query constructors wherever datajoint defines them."""
    return [
        (lambda name: name.startswith("datajoint.U()."), DataJointApi._universal_set_method),
        (lambda name: name.startswith("datajoint.") and name.rsplit(".", 1)[1] in QUERY_CONSTRUCTORS,
         DataJointApi._query_constructor),
    ]


def classify_sql(sql: str) -> tuple[Sequence[SqlTable], Sequence[SqlTable]]:
    """sqlglot is imported only when make() code holds raw SQL (it costs ~0.15 s to import)."""
    from djlint.sqltables import classify

    return classify(sql)
