"""The repository model: tables, name resolution, graph, unknowns, DJ000/DJ001/DJ003/DJ101, noqa, cache."""

from __future__ import annotations

import marshal
import textwrap
from pathlib import Path

import pytest

from djlint.analysis import analyze, noqa_codes
from djlint.build import build_model
from djlint.config import Config, load_config
from djlint.model import Model
from djlint.rules import REGISTRY
from djlint.summaries import SummaryCache
from djlint.walk import module_name


def make_repo(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def model_of(root: Path, files: dict[str, str], **config: object) -> Model:
    make_repo(root, files)
    return build_model([root], Config(root=root, **config), root, use_cache=False)  # type: ignore[arg-type]


def codes(root: Path, **kwargs: object) -> list[tuple[str, int, str]]:
    result = analyze([root], cwd=root, use_cache=False, **kwargs)  # type: ignore[arg-type]
    return [(d.path, d.line, d.code) for d in result.diagnostics]


LAB = '''
import datajoint as dj

schema = dj.schema("lab")


@schema
class Subject(dj.Manual):
    definition = """
    subject_id : int
    """


@schema
class Session(dj.Manual):
    definition = """
    -> Subject
    session : int
    """

    class Note(dj.Part):
        definition = """
        -> master
        note_id : int
        """
'''


def test_table_spellings_tiers_and_parts(tmp_path: Path) -> None:
    model = model_of(
        tmp_path,
        {
            "pipe/__init__.py": "",
            "pipe/lab.py": LAB,
            "pipe/base.py": """
            import datajoint

            class Base(datajoint.Computed):
                def helper(self):
                    return 1

            class Mixin:
                def make(self, key):
                    pass
            """,
            "pipe/ephys.py": '''
            import datajoint
            import datajoint as dj
            from datajoint import Computed as C, Lookup
            from .base import Base, Mixin
            from . import lab

            schema = dj.Schema("ephys")

            @schema
            class A(C):
                definition = "-> lab.Session"

            @schema
            class B(dj.user_tables.Imported):
                definition = "-> A"

            @schema
            class Kind(Lookup):
                definition = "kind : varchar(8)"

            @schema
            class D(Mixin, Base):
                definition = """
                -> B
                """

                class Part(datajoint.Part):
                    definition = """
                    -> D
                    -> Kind
                    """

            class NotATable:
                pass
            ''',
        },
    )
    tiers = {t: (model.tables[t].tier, model.tables[t].master, model.tables[t].schema) for t in model.tables}
    assert tiers == {
        "pipe.lab.Subject": ("Manual", None, "lab"),
        "pipe.lab.Session": ("Manual", None, "lab"),
        "pipe.lab.Session.Note": ("Part", "pipe.lab.Session", "lab"),
        "pipe.ephys.A": ("Computed", None, "ephys"),
        "pipe.ephys.B": ("Imported", None, "ephys"),
        "pipe.ephys.Kind": ("Lookup", None, "ephys"),
        "pipe.ephys.D": ("Computed", None, "ephys"),
        "pipe.ephys.D.Part": ("Part", "pipe.ephys.D", "ephys"),
    }
    # the undecorated Base is a template used as a base class, not a table
    assert "pipe.base.Base" not in model.tables and model.classes["pipe.base.Base"].tier == "Computed"
    assert model.tables["pipe.ephys.D"].bases == ["pipe.base.Mixin", "pipe.base.Base"]
    assert model.tables["pipe.ephys.D"].parts == ["pipe.ephys.D.Part"]
    assert model.method_info("pipe.ephys.D", "make").id == "pipe.base.Mixin.make"
    assert model.method_info("pipe.ephys.D", "helper").id == "pipe.base.Base.helper"
    assert model.method_info("pipe.ephys.D", "make").module == "pipe.base"
    assert model.method_info("pipe.ephys.D", "nothing") is None
    assert set(model.graph.edges()) == {
        ("pipe.lab.Subject", "pipe.lab.Session"),
        ("pipe.lab.Session", "pipe.lab.Session.Note"),
        ("pipe.lab.Session", "pipe.ephys.A"),
        ("pipe.ephys.A", "pipe.ephys.B"),
        ("pipe.ephys.B", "pipe.ephys.D"),
        ("pipe.ephys.D", "pipe.ephys.D.Part"),
        ("pipe.ephys.Kind", "pipe.ephys.D.Part"),
    }
    assert not any(bool(model.unknowns.blockers(t)) for t in model.tables)
    assert model.graph.nodes["pipe.ephys.D.Part"] == {"tier": "Part", "master": "pipe.ephys.D"}
    assert model.allowed.reads("pipe.ephys.D") >= {
        "pipe.ephys.Kind",
        "pipe.lab.Session.Note",
        "pipe.lab.Subject",
    }
    assert [d for code in ("DJ000", "DJ001", "DJ003") for d in REGISTRY[code].check(model, None)] == []


def test_resolution_forms(tmp_path: Path) -> None:
    model = model_of(
        tmp_path,
        {
            "src/pipeline/__init__.py": "",
            "src/pipeline/lab/__init__.py": "",
            "src/pipeline/lab/subject.py": LAB,
            "src/pipeline/shared.py": """
            from .lab.subject import Subject, Session
            from .lab.subject import schema as _schema
            __all__ = ["Subject"]
            """,
            "src/pipeline/reexport.py": "from .lab.subject import *\n",
            "src/pipeline/analysis/__init__.py": "",
            "src/pipeline/analysis/spikes.py": '''
            import datajoint as dj
            import numpy as np
            import pipeline.lab.subject
            from ..lab import subject as subj
            from ..lab.subject import Session as Sess
            from .. import shared
            from ..shared import *
            from ..reexport import *
            try:
                from ..lab.subject import Subject as Maybe
            except ImportError:
                Maybe = None
            Alias = Sess.Note
            schema = dj.schema("analysis")

            @schema
            class Spikes(dj.Computed):
                definition = """
                -> pipeline.lab.subject.Session
                -> subj.Subject
                -> Sess.Note
                -> Maybe
                -> shared.Session
                """
            ''',
        },
    )
    mod = "pipeline.analysis.spikes"
    assert set(model.modules) == {
        "pipeline",
        "pipeline.lab",
        "pipeline.lab.subject",
        "pipeline.shared",
        "pipeline.reexport",
        "pipeline.analysis",
        mod,
    }
    expect = {
        "Spikes": ("table", "pipeline.analysis.spikes.Spikes"),
        "pipeline.lab.subject.Session": ("table", "pipeline.lab.subject.Session"),
        "subj.Subject": ("table", "pipeline.lab.subject.Subject"),
        "Sess.Note": ("table", "pipeline.lab.subject.Session.Note"),
        "Maybe": ("table", "pipeline.lab.subject.Subject"),
        "Alias": ("table", "pipeline.lab.subject.Session.Note"),
        "Subject": ("table", "pipeline.lab.subject.Subject"),  # star import (shared's __all__)
        "Session": ("table", "pipeline.lab.subject.Session"),  # star import via reexport (no __all__)
        "subj": ("module", "pipeline.lab.subject"),
        "pipeline.lab": ("module", "pipeline.lab"),
        "np.mean": ("external", "numpy.mean"),
        "dj.Computed": ("external", "datajoint.Computed"),
        "len": ("external", "builtins.len"),
        "schema": ("schema", "analysis"),
        "Nowhere": ("unknown", "Nowhere"),
        "subj.Nowhere": ("unknown", "subj.Nowhere"),
        "shared.Session": ("table", "pipeline.lab.subject.Session"),
    }
    got = {name: (s.kind, s.target) for name in expect if (s := model.resolve(mod, name)) is not None}
    assert got == expect
    # _schema is private to shared (not exported by __all__ anyway)
    assert model.resolve(mod, "_schema").kind == "unknown"
    assert model.resolve(mod, "Sess.insert1") is None
    # a package's submodule is one of its globals (what a function-local `from .. import lab` reads)
    assert (model.resolve("pipeline", "lab").kind, model.resolve("pipeline", "lab").target) == (
        "module",
        "pipeline.lab",
    )
    assert model.resolve("pipeline", "nothing").kind == "unknown"
    spikes = model.tables[f"{mod}.Spikes"].definition
    assert [fk.target for fk in spikes.foreign_keys] == [
        "pipeline.lab.subject.Session",
        "pipeline.lab.subject.Subject",
        "pipeline.lab.subject.Session.Note",
        "pipeline.lab.subject.Subject",
        "pipeline.lab.subject.Session",
    ]
    assert model.unknown_names == {}


def test_virtual_modules_and_unknown_names(tmp_path: Path) -> None:
    model = model_of(
        tmp_path,
        {
            "lab.py": LAB,
            "ephys.py": '''
            import datajoint as dj
            import element_animal.subject as animal
            from .config import db_prefix

            lab = dj.create_virtual_module("lab", "lab")
            lab2 = dj.VirtualModule("lab2", schema_name="lab")
            other = dj.create_virtual_module("other", "not_in_repo")
            dynamic = dj.create_virtual_module("dyn", db_prefix + "lab")
            schema = dj.schema()

            @schema
            class Probe(dj.Imported):
                definition = """
                -> lab.Session
                -> lab2.Session.Note
                ---
                -> [nullable] other.Rig
                """

            @schema
            class Insertion(dj.Imported):
                definition = """
                -> Probe
                -> dynamic.Subject
                -> Session
                """

            @schema
            class Clean(dj.Imported):
                definition = """
                -> lab.Session
                """

            @schema
            class External(dj.Manual):
                definition = """
                -> animal.Subject
                -> Session
                """
            ''',
        },
    )
    fks = {
        t: [(f.target, f.unknown) for f in model.tables[t].definition.foreign_keys]
        for t in ("ephys.Probe", "ephys.Insertion", "ephys.External")
    }
    assert fks == {
        "ephys.Probe": [("lab.Session", None), ("lab.Session.Note", None), (None, "other.Rig")],
        "ephys.Insertion": [("ephys.Probe", None), (None, "dynamic.Subject"), (None, "Session")],
        "ephys.External": [(None, "element_animal.subject.Subject"), (None, "Session")],
    }
    assert model.tables["ephys.Probe"].schema is None
    assert {
        t: bool(model.unknowns.blockers(t))
        for t in ("ephys.Probe", "ephys.Insertion", "ephys.Clean", "ephys.External", "lab.Session")
    } == {
        "ephys.Probe": True,
        "ephys.Insertion": True,
        "ephys.Clean": False,
        "ephys.External": True,
        "lab.Session": False,
    }
    assert model.graph.has_edge("?Rig@not_in_repo", "ephys.Probe") and model.graph.nodes["?Rig@not_in_repo"]["unknown"]
    assert not model.graph.edges["?Rig@not_in_repo", "ephys.Probe"]["primary"]
    # one DJ001 per unknown name, at its first occurrence
    assert model.unknown_names == {
        "other.Rig": ("ephys.py", 17, 5),
        "dynamic.Subject": ("ephys.py", 24, 5),
        "Session": ("ephys.py", 25, 5),
        "element_animal.subject.Subject": ("ephys.py", 37, 5),
    }
    assert [c for c in codes(tmp_path) if c[2] == "DJ001"] == [
        ("ephys.py", 17, "DJ001"),
        ("ephys.py", 24, "DJ001"),
        ("ephys.py", 25, "DJ001"),
        ("ephys.py", 37, "DJ001"),
    ]


def test_linking_config_resolves_elements_names(tmp_path: Path) -> None:
    files = {
        "pyproject.toml": '[tool.djlint]\nlinking = { Session = "lab.Session" }\n',
        "lab.py": LAB,
        "element.py": '''
            import datajoint as dj
            schema = dj.schema()

            @schema
            class Recording(dj.Imported):
                definition = """
                -> Session
                """
            ''',
    }
    make_repo(tmp_path, files)
    config = load_config(tmp_path)
    model = build_model([tmp_path], config, tmp_path, use_cache=False)
    assert model.tables["element.Recording"].definition.foreign_keys[0].target == "lab.Session"
    assert model.resolve("element", "Session").target == "lab.Session"
    assert not bool(model.unknowns.blockers("element.Recording"))
    assert codes(tmp_path) == []


def test_aliased_same_named_modules_and_spawned_classes(tmp_path: Path) -> None:
    model = model_of(
        tmp_path,
        {
            "a/__init__.py": "",
            "b/__init__.py": "",
            "a/utils.py": LAB,
            "b/utils.py": LAB.replace('"lab"', '"lab_b"'),
            "main.py": '''
            import datajoint as dj
            from a import utils as a_utils
            from b import utils as b_utils
            schema = dj.schema("main")
            legacy = dj.schema("legacy")
            legacy.spawn_missing_classes()

            @schema
            class Pair(dj.Computed):
                definition = """
                -> a_utils.Session
                -> b_utils.Subject
                -> Spawned
                """
            ''',
        },
    )
    assert [(f.target, f.unknown) for f in model.tables["main.Pair"].definition.foreign_keys] == [
        ("a.utils.Session", None),
        ("b.utils.Subject", None),
        (None, "Spawned"),
    ]


def test_part_naming_its_master_by_class_and_sibling_parts(tmp_path: Path) -> None:
    model = model_of(
        tmp_path,
        {
            "seg.py": '''
        import datajoint as dj
        schema = dj.schema("seg")

        @schema
        class Segmentation(dj.Computed):
            definition = """
            seg_id : int
            """

            class Mask(dj.Part):
                definition = """
                -> Segmentation
                mask : int
                """

            class Trace(dj.Part):
                definition = """
                -> Segmentation.Mask
                """

            class Extra(dj.Part):
                definition = """
                -> master.Mask
                (other_mask) -> Mask(mask)
                """
        '''
        },
    )
    edges = {(a, b): d["renames"] for a, b, d in model.graph.edges(data=True)}
    assert edges == {
        ("seg.Segmentation", "seg.Segmentation.Mask"): {},
        ("seg.Segmentation.Mask", "seg.Segmentation.Trace"): {},
        ("seg.Segmentation.Mask", "seg.Segmentation.Extra"): {"other_mask": "mask"},
    }


def test_dj101_exact_lines_and_negatives(tmp_path: Path) -> None:
    make_repo(
        tmp_path,
        {
            "pipe.py": '''
        import datajoint as dj
        schema = dj.schema("p")

        @schema
        class Manual(dj.Manual):
            definition = """
            id : int
            """

        @schema
        class Comp(dj.Computed):
            definition = """
            -> Manual
            extra : int        # line 14
            (renamed) -> Manual(id)
            ---
            value : float
            """

            class Unit(dj.Part):
                definition = """
                -> master
                unit : int
                """

        @schema
        class Imp(dj.Imported):
            definition = ("-> Mystery\\n"
                          "chan : int\\n"
                          "---\\n")

        @schema
        class Suppressed(dj.Computed):
            definition = """
            -> Manual
            trial : int  # noqa: DJ101
            other : int  # noqa: DJ201
            """

        @schema
        class Clean(dj.Computed):
            definition = """
            -> Manual
            ---
            x : int
            """
        '''
        },
    )
    assert codes(tmp_path) == [
        ("pipe.py", 14, "DJ101"),
        ("pipe.py", 28, "DJ001"),
        ("pipe.py", 29, "DJ101"),
        ("pipe.py", 37, "DJ101"),
    ]
    result = analyze([tmp_path], cwd=tmp_path.parent, use_cache=False)
    first = result.diagnostics[0]
    assert (first.path, first.column) == (f"{tmp_path.name}/pipe.py", 5)
    assert "extra" in first.message and "Comp" in first.message
    ignored = Config(root=tmp_path, ignore=("DJ101",))
    assert [d.code for d in analyze([tmp_path], ignored, cwd=tmp_path, use_cache=False).diagnostics] == [
        "DJ001"
    ]


def test_non_literal_definitions_and_syntax_errors(tmp_path: Path) -> None:
    make_repo(
        tmp_path,
        {
            "ok.py": '''
            import datajoint as dj
            schema = dj.schema("ok")
            NAME = "x"

            @schema
            class Dynamic(dj.Computed):
                definition = f"""
                -> Up
                {NAME} : int
                """

            @schema
            class Child(dj.Computed):
                definition = """
                -> Dynamic
                """
            ''',
            "broken.py": "import datajoint as dj\n\nclass A(dj.Manual:\n    pass\n",
            "binary.py": b"x = '\xff'\n".decode("latin-1"),
        },
    )
    (tmp_path / "binary.py").write_bytes(b"x = 1\ny = '\xff'\n")
    result = analyze([tmp_path], cwd=tmp_path, use_cache=False)
    assert [(d.path, d.line, d.code) for d in result.diagnostics] == [
        ("binary.py", 2, "DJ000"),
        ("broken.py", 3, "DJ000"),
        ("ok.py", 7, "DJ001"),
    ]
    assert "not a literal" in result.diagnostics[2].message
    assert bool(result.model.unknowns.blockers("ok.Child")) and bool(result.model.unknowns.blockers("ok.Dynamic"))
    assert sorted(result.files) == ["binary.py", "broken.py", "ok.py"]
    assert set(result.model.modules) == {"ok"}


def test_policy_names_dj003(tmp_path: Path) -> None:
    make_repo(
        tmp_path,
        {
            "pyproject.toml": """
            [project]
            name = "x"

            [tool.djlint.allow."pipe.lab.Session"]
            reads = ["pipe.lab.Subject", "pipe.lab.Sesion"]
            writes = ["pipe.lab.Session.Note"]

            [tool.djlint.allow."pipe.lab.Nothing"]
            writes = ["other.Thing"]
            """,
            "pipe/__init__.py": "",
            "pipe/lab.py": LAB,
        },
    )
    result = analyze([tmp_path], cwd=tmp_path, use_cache=False)
    assert [(d.path, d.line, d.code) for d in result.diagnostics] == [
        ("pyproject.toml", 5, "DJ003"),
        ("pyproject.toml", 8, "DJ003"),
        ("pyproject.toml", 9, "DJ003"),
    ]
    assert "'pipe.lab.Sesion'" in result.diagnostics[0].message
    # a run over part of the repository only judges names of the modules it read
    partial = analyze([tmp_path / "pipe" / "lab.py"], cwd=tmp_path, use_cache=False)
    assert [(d.line, d.code) for d in partial.diagnostics] == [(5, "DJ003"), (8, "DJ003")]


def test_exclusions(tmp_path: Path) -> None:
    bad = "def f(:\n"
    make_repo(
        tmp_path,
        {
            "pyproject.toml": '[tool.djlint]\nexclude = ["notebooks/*", "scratch.py"]\n',
            "good.py": "x = 1\n",
            "notebooks/n.py": bad,
            "scratch.py": bad,
            ".venv/lib/x.py": bad,
            "build/x.py": bad,
            "node_modules/x.py": bad,
            "a/__pycache__/x.py": bad,
            "a/site-packages/x.py": bad,
            "dist/x.py": bad,
            ".tox/x.py": bad,
            "venv/x.py": bad,
            ".git/x.py": bad,
            "sub/kept.py": bad,
        },
    )
    result = analyze([tmp_path], cwd=tmp_path, use_cache=False)
    assert sorted(result.files) == ["good.py", "sub/kept.py"]
    assert [(d.path, d.code) for d in result.diagnostics] == [("sub/kept.py", "DJ000")]


def test_noqa_syntax() -> None:
    assert noqa_codes("x = 1") is None
    assert noqa_codes("x = 1  # noqa") == frozenset()
    assert noqa_codes("x = 1  # NOQA:DJ201,DJ301") == {"DJ201", "DJ301"}
    assert noqa_codes("x = 1  # noqa: DJ201, DJ301 trailing words") == {"DJ201", "DJ301"}


def test_module_names(tmp_path: Path) -> None:
    make_repo(
        tmp_path,
        {
            "src/pkg/__init__.py": "",
            "src/pkg/sub/__init__.py": "",
            "src/pkg/sub/m.py": "",
            "scripts/run.py": "",
            "top.py": "",
            "src/ns/mod.py": "",
        },
    )
    assert module_name(tmp_path / "src/pkg/sub/m.py", tmp_path) == ("pkg.sub.m", False)
    assert module_name(tmp_path / "src/pkg/sub/__init__.py", tmp_path) == ("pkg.sub", True)
    assert module_name(tmp_path / "scripts/run.py", tmp_path) == ("scripts.run", False)
    assert module_name(tmp_path / "top.py", tmp_path) == ("top", False)
    assert module_name(tmp_path / "src/ns/mod.py", tmp_path) == ("ns.mod", False)


def _pack(repo: Path) -> Path:
    packs = sorted((repo / ".djlint_cache").glob("summaries-*.pack"))
    assert len(packs) == 1, packs
    return packs[0]


def _analyze_without_snapshot(repo: Path):  # so that the model is built from the summaries
    for snapshot in (repo / ".djlint_cache").glob("model-*.snapshot"):
        snapshot.unlink()
    return analyze([repo], cwd=repo)


def test_summary_cache_is_used_and_corruption_ignored(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"lab.py": LAB, "pyproject.toml": "[project]\nname='x'\n"})
    first = _analyze_without_snapshot(repo)
    pack = _pack(repo)
    assert (repo / ".djlint_cache" / ".gitignore").read_text().strip().endswith("*")
    entries = marshal.loads(pack.read_bytes())
    assert [summary["classes"][0]["name"] for summary in entries.values()] == ["Subject"]
    written = pack.stat().st_mtime_ns
    _analyze_without_snapshot(repo)
    assert pack.stat().st_mtime_ns == written  # nothing new: not rewritten
    pack.write_bytes(b"\x00garbage")
    second = _analyze_without_snapshot(repo)
    assert second.diagnostics == first.diagnostics and set(second.model.tables) == set(first.model.tables)
    assert list(marshal.loads(pack.read_bytes())) == list(entries)  # rebuilt
    # a cached entry is really read: plant a different (valid) summary under the same key; unsigned
    # (as a repository could ship it) it is ignored, signed with the user's key it is used
    planted = {key: {**value, "classes": []} for key, value in entries.items()}
    pack.write_bytes(marshal.dumps(planted))
    assert set(_analyze_without_snapshot(repo).model.tables) == set(first.model.tables)
    summaries = SummaryCache(repo / ".djlint_cache", repo.resolve())
    assert summaries.cache_files.path(summaries.key) == pack
    pack.write_bytes(summaries.cache_files.seal(summaries.key, marshal.dumps(planted)))
    assert _analyze_without_snapshot(repo).model.tables == {}
    assert set(analyze([repo], cwd=repo, use_cache=False).model.tables) == {
        "lab.Subject",
        "lab.Session",
        "lab.Session.Note",
    }


def test_cache_keeps_entries_of_other_runs_and_follows_edits(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": LAB, "b.py": LAB.replace('"lab"', '"b"')})
    build_model([repo], Config(root=repo), repo)
    build_model([repo / "a.py"], Config(root=repo), repo)
    assert len(marshal.loads(_pack(repo).read_bytes())) == 2
    (repo / "a.py").write_text(
        LAB.replace("class Subject", "class Animal").replace("-> Subject", "-> Animal")
    )
    model = build_model([repo], Config(root=repo), repo)
    assert "a.Animal" in model.tables and "a.Subject" not in model.tables and "b.Subject" in model.tables
    assert len(marshal.loads(_pack(repo).read_bytes())) == 3


@pytest.mark.parametrize(
    "spelling",
    [
        "import datajoint as dj\nBase = dj.Computed",
        "import datajoint\nBase = datajoint.Computed",
        "from datajoint import Computed as Base",
        "from datajoint.user_tables import Computed as Base",
    ],
)
def test_base_spellings(tmp_path: Path, spelling: str) -> None:
    model = model_of(
        tmp_path, {"m.py": spelling + "\n\n@schema\nclass T(Base):\n    definition = 'x : int'\n"}
    )
    assert model.tables["m.T"].tier == "Computed"
    assert codes(tmp_path) == [("m.py", 5 + spelling.count("\n"), "DJ101")]


def test_star_imports_honour_all_and_conditional_branches(tmp_path: Path) -> None:
    model = model_of(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/lab.py": LAB,
            "pkg/public.py": 'from .lab import Subject, Session\n__all__ = ["Subject"]\n',
            "pkg/use.py": """
            import sys
            from .public import *
            if sys.version_info >= (3, 10):
                from .lab import Session as Current
            else:
                from .old_lab import Session as Current
            lab = __import__("datajoint").create_virtual_module("lab", "lab")
            """,
        },
    )
    assert model.resolve("pkg.use", "Subject").target == "pkg.lab.Subject"
    assert model.resolve("pkg.use", "Session").kind == "unknown"  # not in public.__all__
    assert model.resolve("pkg.use", "Current").target == "pkg.lab.Session"
    virtual = model.resolve("pkg.use", "lab")
    assert (virtual.kind, virtual.target, virtual.schema) == ("module", "pkg.lab", "lab")
    assert model.resolve("pkg.use", "lab.Session.Note").target == "pkg.lab.Session.Note"
    assert model.attribute(virtual, "Missing").kind == "unknown"


def test_inherited_definition_and_template_bases(tmp_path: Path) -> None:
    make_repo(
        tmp_path,
        {
            "base.py": '''
            import datajoint as dj

            class TraceTemplate(dj.Computed):
                definition = """
                -> Scan
                trace_id : int
                """
            ''',
            "scan.py": """
            import datajoint as dj
            from base import TraceTemplate
            schema = dj.schema("scan")

            @schema
            class Scan(dj.Manual):
                definition = "scan_id : int"

            @schema
            class Trace(TraceTemplate):
                pass
            """,
        },
    )
    result = analyze([tmp_path], cwd=tmp_path, use_cache=False)
    table = result.model.tables["scan.Trace"]
    assert (table.tier, table.definition_path, table.bases) == ("Computed", "base.py", ["base.TraceTemplate"])
    assert "base.TraceTemplate" not in result.model.tables
    # datajoint declares the inherited definition in the decorating schema's context (scan.py), so
    # 'Scan' resolves there; DJ101 is reported at the template's line
    assert table.definition.foreign_keys[0].target == "scan.Scan"
    assert [(d.path, d.line, d.code) for d in result.diagnostics] == [("base.py", 6, "DJ101")]


def _build_in_child(root: str) -> list[str]:
    model = build_model([Path(root)], Config(root=Path(root)), Path(root))
    return sorted(model.tables)


def test_parallel_processes_share_the_summary_cache(tmp_path: Path) -> None:
    from concurrent.futures import ProcessPoolExecutor

    files = {f"pkg/m{i}.py": LAB.replace('"lab"', f'"lab{i}"') for i in range(12)}
    repo = make_repo(tmp_path / "repo", {"pkg/__init__.py": "", **files})
    with ProcessPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(_build_in_child, [str(repo)] * 8))
    expected = sorted(
        f"pkg.m{i}.{name}" for i in range(12) for name in ("Subject", "Session", "Session.Note")
    )
    assert all(result == expected for result in results)
    assert len(marshal.loads(_pack(repo).read_bytes())) == 13
    assert not list((repo / ".djlint_cache").glob(".tmp-*"))


ELEMENT = '''
import datajoint as dj

schema = dj.schema()
_linking_module = None


def activate(schema_name, *, linking_module=None):
    global _linking_module
    _linking_module = linking_module
    schema.activate(schema_name, add_objects=linking_module.__dict__)


@schema
class Recording(dj.Imported):
    definition = """
    -> Session
    ---
    -> [nullable] Rig
    """
'''


@pytest.mark.parametrize("activation", [
    'ephys.activate("ephys", linking_module=__name__)',
    'ephys.activate("ephys", linking_module="workflow.pipeline")',
    'ephys.activate("ephys", linking_module=sys.modules[__name__])',
    'activate("ephys", linking_module=__name__)',  # imported from the element: the interpreter's reading too
])
def test_elements_activate_links_names_to_the_linking_module(tmp_path: Path, activation: str) -> None:
    model = model_of(
        tmp_path,
        {
            "element/__init__.py": "",
            "element/ephys.py": ELEMENT,
            "workflow/__init__.py": "",
            "workflow/lab.py": LAB,
            "workflow/pipeline.py": f"""
            import sys
            from element import ephys
            from element.ephys import activate
            from .lab import Session
            {activation}
            """,
        },
    )
    fks = model.tables["element.ephys.Recording"].definition.foreign_keys
    assert [(f.target, f.unknown) for f in fks] == [("workflow.lab.Session", None), (None, "Rig")]
    assert model.resolve("element.ephys", "Session").target == "workflow.lab.Session"
    assert list(model.unknown_names) == ["Rig"]


def test_elements_without_activation_in_the_repo_stay_unknown(tmp_path: Path) -> None:
    model = model_of(tmp_path, {"element/__init__.py": "", "element/ephys.py": ELEMENT})
    assert sorted(model.unknown_names) == ["Rig", "Session"]
    assert bool(model.unknowns.blockers("element.ephys.Recording"))


def test_parts_nested_in_template_bases_belong_to_each_inheriting_table(tmp_path: Path) -> None:
    make_repo(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/base.py": '''
            import datajoint as dj

            class ClusteringBase(dj.Imported):
                definition = """
                -> Recording
                """

                class Unit(dj.Part):
                    definition = """
                    -> master
                    unit : int
                    """

                    def describe(self):
                        return "unit"
            ''',
            "pkg/acute.py": """
            import datajoint as dj
            from .base import ClusteringBase
            schema = dj.schema("acute")

            @schema
            class Recording(dj.Manual):
                definition = "recording : int"

            @schema
            class Clustering(ClusteringBase):
                pass
            """,
        },
    )
    result = analyze([tmp_path], cwd=tmp_path, use_cache=False)
    model = result.model
    assert sorted(model.tables) == [
        "pkg.acute.Clustering",
        "pkg.acute.Clustering.Unit",
        "pkg.acute.Recording",
    ]
    part = model.tables["pkg.acute.Clustering.Unit"]
    assert (part.master, part.tier, part.schema, part.path) == (
        "pkg.acute.Clustering",
        "Part",
        "acute",
        "pkg/base.py",
    )
    assert model.tables["pkg.acute.Clustering"].parts == ["pkg.acute.Clustering.Unit"]
    assert set(model.graph.edges()) == {
        ("pkg.acute.Recording", "pkg.acute.Clustering"),
        ("pkg.acute.Clustering", "pkg.acute.Clustering.Unit"),
    }
    assert (
        model.method_info("pkg.acute.Clustering.Unit", "describe").id
        == "pkg.base.ClusteringBase.Unit.describe"
    )
    assert model.resolve("pkg.acute", "Clustering.Unit").target == "pkg.acute.Clustering.Unit"
    assert result.diagnostics == []  # no DJ001 for '-> master' in the template's Part


def test_functions_bound_as_methods_by_assignment(tmp_path: Path) -> None:
    model = model_of(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/helpers.py": "def shared_make(self, key):\n    pass\n",
            "pkg/tables.py": """
            import datajoint as dj
            from . import helpers
            from .helpers import shared_make as imported_make

            def _make_summary(self, key):
                pass

            class A(dj.Computed):
                definition = "-> B"
                make = _make_summary

            class B(dj.Manual):
                definition = "b : int"
                make = helpers.shared_make

            class C(dj.Computed):
                definition = "-> B"
                def _make_tuples(self, key):
                    pass
                make = _make_tuples

            class D(dj.Computed):
                definition = "-> B"
                make = imported_make
                other = len
            """,
        },
    )
    got = {c: model.method_info(f"pkg.tables.{c}", "make").id for c in "ABCD"}
    assert got == {
        "A": "pkg.tables._make_summary",
        "B": "pkg.helpers.shared_make",
        "C": "pkg.tables.C._make_tuples",
        "D": "pkg.helpers.shared_make",
    }
    assert model.method_info("pkg.tables.D", "other") is None


def test_dj101_in_an_inherited_definition_is_reported_once(tmp_path: Path) -> None:
    make_repo(
        tmp_path,
        {
            "base.py": '''
            import datajoint as dj

            class MetricsBase(dj.Computed):
                definition = """
                -> Run
                metric : varchar(16)
                """
            ''',
            "a.py": """
            import datajoint as dj
            from base import MetricsBase
            schema = dj.schema("a")

            @schema
            class Run(dj.Manual):
                definition = "run : int"

            @schema
            class Metrics(MetricsBase):
                pass
            """,
            "b.py": "import datajoint as dj\nfrom a import Run\nfrom base import MetricsBase\n\n"
            "@dj.schema('b')\nclass Metrics(MetricsBase):\n    pass\n",
        },
    )
    result = analyze([tmp_path], cwd=tmp_path, use_cache=False)
    assert [(d.path, d.line, d.code) for d in result.diagnostics] == [("base.py", 6, "DJ101")]
    assert "Computed table Metrics " in result.diagnostics[0].message
    assert (result.model.tables["b.Metrics"].schema, result.model.tables["a.Metrics"].schema) == ("b", "a")
