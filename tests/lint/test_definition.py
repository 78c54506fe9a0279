"""The definition-language parser and the cheap per-file pass: exact results and no crash on anything."""

from __future__ import annotations

import textwrap
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from djlint.build import build_model
from djlint.config import Config
from djlint.definition import parse_definition
from djlint.rules import REGISTRY
from djlint.summaries import summarize


def test_primary_and_secondary_attributes_with_defaults_and_comments() -> None:
    d = parse_definition(
        textwrap.dedent("""
        # a table comment
        subject_id : int   # the id
        ---
        sex = "U" : enum('M', 'F', 'U')  # sex # really
        weight = null : float
        note = "a: b # c" : varchar(32)
        ts = CURRENT_TIMESTAMP : timestamp
        id2 : int auto_increment
        """)
    )
    assert d.comment == "a table comment"
    assert [(a.name, a.type, a.default, a.comment, a.in_key, a.line) for a in d.attributes] == [
        ("subject_id", "int", None, "the id", True, 3),
        ("sex", "enum('M', 'F', 'U')", '"U"', "sex # really", False, 5),
        ("weight", "float", "null", "", False, 6),
        ("note", "varchar(32)", '"a: b # c"', "", False, 7),
        ("ts", "timestamp", "CURRENT_TIMESTAMP", "", False, 8),
        ("id2", "int auto_increment", None, "", False, 9),
    ]
    assert d.problems == []


def test_foreign_key_forms() -> None:
    d = parse_definition(
        textwrap.dedent("""
        -> master
        -> [nullable, unique] lab.Subject
        -> Probe.proj(probe='insertion', other="x")
        (new_attr) -> Table(old_attr)
        (a, b) -> Table2
        ----------
        -> [ nullable ] m.Session  # comment
        -> Ref.proj()
        index(a, b)
        unique index (c)
        """),
        start_line=10,
    )
    fks = [(f.ref, f.primary, f.options, f.renames, f.line) for f in d.foreign_keys]
    assert fks == [
        ("master", True, set(), {}, 11),
        ("lab.Subject", True, {"nullable", "unique"}, {}, 12),
        ("Probe", True, set(), {"probe": "insertion", "other": "x"}, 13),
        ("Table", True, set(), {"new_attr": "old_attr"}, 14),
        ("Table2", True, set(), {"a": None, "b": None}, 15),
        ("m.Session", False, {"nullable"}, {}, 17),
        ("Ref", False, set(), {}, 18),
    ]
    assert d.indexes == ["index(a, b)", "unique index (c)"]
    assert d.attributes == [] and d.problems == []


def test_divider_needs_three_dashes_and_bad_lines_are_problems() -> None:
    d = parse_definition("a : int\n--\nb int\n---\nc : int\n-> \n")
    assert [(a.name, a.in_key) for a in d.attributes] == [("a", True), ("c", False)]
    assert [line for line, _ in d.problems] == [2, 3, 6]
    assert d.foreign_keys[0].ref is None


def _summary_definition(source: str) -> dict:
    summary = summarize(textwrap.dedent(source).encode())
    return summary["classes"][0]["definition"]


def test_absolute_lines_of_triple_quoted_and_concatenated_strings() -> None:
    triple = _summary_definition('''
        class T:
            definition = """
            -> Session
            unit : int
            """
        ''')
    assert [a[4] for a in triple["attributes"]] == [5]
    assert [(a[0], a[4], a[6]) for a in triple["attributes"]] == [("unit", 5, 5)]
    assert triple["foreign_keys"][0][5] == 4
    concatenated = _summary_definition('''
        class T:
            definition = ("-> Session\\n"
                          "unit : int\\n"
                          """---
            x : int
            """)
        ''')
    assert [(a[0], a[4], a[6]) for a in concatenated["attributes"]] == [("unit", 4, 20), ("x", 6, 5)]
    assert concatenated["foreign_keys"][0][5] == 3
    one_line = _summary_definition("""
        class T:
            definition = "-> Session\\nunit : int"
        """)
    assert [(a[0], a[4]) for a in one_line["attributes"]] == [("unit", 3)]


def test_non_literal_definitions() -> None:
    for value in ('f"x : int"', "BASE", '"a" + "b"', '"""x : {}""".format(1)', "b'x : int'"):
        record = _summary_definition(f"class T:\n    definition = {value}\n")
        assert record["literal"] is False and record["line"] == 2, value
    prop = summarize(b"class T:\n    @property\n    def definition(self):\n        return 'x : int'\n")
    assert prop["classes"][0]["definition"] == {"literal": False, "line": 3, "column": 5}


def test_bad_files_are_errors_not_crashes() -> None:
    assert summarize(b"def f(:\n")["error"]["line"] == 1
    assert summarize(b"x = 1\n\nclass :\n")["error"]["line"] == 3
    assert summarize(b"x = 1\ny = '\xff\xfe'\n")["error"]["line"] == 2
    assert "error" in summarize(b"x = 1\x00\n")
    assert "error" in summarize(b"# -*- coding: nonsense -*-\nx = 1\n")
    assert "error" in summarize(b"(" * 500 + b")" * 500)
    latin = summarize(
        "# -*- coding: latin-1 -*-\nclass T:\n    definition = 'n\xe9 : int'\n".encode("latin-1")
    )
    assert latin["classes"][0]["definition"]["attributes"][0][:2] == ["n\xe9", "int"]


# -- fuzzing ---------------------------------------------------------------------------------------
_definition_lines = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.sampled_from(
            [
                "---",
                "----",
                "___",
                "-> master",
                "-> [nullable] a.B",
                "(x) -> T(y)",
                "(x, y) -> T",
                "-> T.proj(a='b')",
                "-> T.proj(a=",
                "a = 1 : int # c",
                "index(a)",
                "unique index(",
                "# c",
                "x : enum('a', 'b#c')",
                "(",
                ")",
                "->",
                "-> [",
                "= :",
                "a=:",
                '"',
                "'",
            ]
        ),
    ),
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(_definition_lines, st.integers(min_value=1, max_value=5000))
def test_definition_parser_never_raises(lines: list[str], start: int) -> None:
    text = "\n".join(lines)
    d = parse_definition(text, start_line=start)
    count = len(text.split("\n"))
    for attribute in d.attributes:
        assert start <= attribute.line < start + count
        assert attribute.name.isidentifier()
    for fk in d.foreign_keys:
        assert start <= fk.line < start + count


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_summary_never_raises_on_random_bytes(data: bytes) -> None:
    summary = summarize(data)
    assert "error" in summary or "classes" in summary


_source_pieces = st.lists(
    st.sampled_from(
        [
            "import datajoint as dj\n",
            "from datajoint import Computed as C\n",
            "schema = dj.schema('s')\n",
            "m = dj.create_virtual_module('m', 's')\n",
            "from .other import *\n",
            "from . import other\n",
            "@schema\n",
            "class A(dj.Manual):\n",
            "class B(C):\n",
            "class P(dj.Part):\n",
            "class M(A):\n",
            "    definition = '''\n",
            "    '''\n",
            "    definition = f'x'\n",
            "-> A\n",
            "-> master\n",
            "-> m.A\n",
            "-> other.B\n",
            "x : int\n",
            "---\n",
            "    def make(self, key):\n",
            "        pass\n",
            "    pass\n",
            "    class P(dj.Part):\n",
            "        definition = '-> master'\n",
            "try:\n",
            "except ImportError:\n",
            "(\n",
            ")\n",
            '"""\n',
            "if x:\n",
            "__all__ = ['A']\n",
            "class C(B, A): pass\n",
            "\t\n",
            "\\\n",
        ]
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_source_pieces, _source_pieces)
def test_build_model_never_raises_on_garbled_sources(
    tmp_path: Path, first: list[str], second: list[str]
) -> None:
    root = tmp_path / "repo"
    package = root / "pkg"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text("".join(first))
    (package / "other.py").write_text("".join(second))
    model = build_model([root], Config(root=root), root, use_cache=False)
    for table_id in model.tables:
        reads = model.allowed.reads(table_id)
        assert bool(model.unknowns.blockers(table_id)) == any(str(n).startswith("?") for n in reads)
    for code in ("DJ000", "DJ001", "DJ003"):  # what the model alone reports
        for diagnostic in REGISTRY[code].check(model, None):
            assert diagnostic.code == code
            assert diagnostic.line >= 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200), st.text(max_size=200))
def test_each_file_is_a_module_or_exactly_one_dj000(tmp_path: Path, data: bytes, text: str) -> None:
    root = tmp_path / "repo"
    root.mkdir(exist_ok=True)
    (root / "a.py").write_bytes(data)
    (root / "b.py").write_text(text, encoding="utf-8", errors="surrogatepass")
    (root / "c.py").write_text("import datajoint as dj\n\nclass T(dj.Manual):\n    definition = 'x : int'\n")
    model = build_model([root], Config(root=root), root, use_cache=False)
    for name in ("a", "b"):
        broken = [d for d in REGISTRY["DJ000"].check(model, None) if d.path == f"{name}.py"]
        assert (name in model.modules) != (len(broken) == 1)
        assert len(broken) <= 1
    assert "c.T" in model.tables


def test_comment_on_the_opening_line_and_compact_defaults() -> None:
    record = _summary_definition('''
        class Site:
            definition = """  # recording sites
            -> master
            site: int
            ---
            x=NULL: float  # um
            label='' :  varchar(100)
            """
        ''')
    assert record["comment"] == "recording sites"
    assert [tuple(a[:6]) for a in record["attributes"]] == [
        ("site", "int", None, "", 5, True),
        ("x", "float", "NULL", "um", 7, False),
        ("label", "varchar(100)", "''", "", 8, False),
    ]
    assert [(f[1], f[5]) for f in record["foreign_keys"]] == [("master", 4)]
