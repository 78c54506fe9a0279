"""The model snapshot (djlint.snapshot): reused only when every file's summary is unchanged, never
unpickled unless signed with the user's key, and never changing what a run finds."""

import marshal
import pickle
import textwrap
from pathlib import Path

import pytest

from djlint import snapshot as snapshot_module
from djlint.analysis import analyze
from djlint.cachestore import TAG_SIZE, Store
from djlint.rules import REGISTRY

LAB = '''
import datajoint as dj

schema = dj.schema("lab")


@schema
class Subject(dj.Manual):
    definition = """
    subject_id: int
    """


@schema
class Rig(dj.Manual):
    definition = """
    rig: varchar(16)
    """


@schema
class Session(dj.Manual):
    definition = """
    -> Subject
    session: int
    """
'''

ANALYSIS = '''
import datajoint as dj

from lab import Rig, Session

schema = dj.schema("analysis")


@schema
class Summary(dj.Computed):
    definition = """
    -> Session
    ---
    total: float
    """

    def make(self, key):
        rigs = Rig.fetch("rig")  # sideways: Rig is not upstream of Summary
        self.insert1(dict(key, total=len(rigs)))
'''


def make_repo(root: Path) -> Path:
    for name, text in {"lab.py": LAB, "analysis.py": ANALYSIS}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def snapshots(repo: Path) -> list[Path]:
    return sorted((repo / ".djlint_cache").glob("model-*.snapshot"))


def codes(result) -> list[tuple[str, int, str]]:
    return [(d.path, d.line, d.code) for d in result.diagnostics]


def fresh(repo: Path):
    return analyze([repo], cwd=repo, use_cache=False)


def test_an_edit_that_keeps_every_summary_reuses_the_model(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    first = analyze([repo], cwd=repo)
    assert not first.model.restored and len(snapshots(repo)) == 1
    assert ("analysis.py", 17, "DJ201") in codes(first)
    # a make() body edited in place: same classes, imports and lines
    path = repo / "analysis.py"
    path.write_text(path.read_text().replace('Rig.fetch("rig")', 'Session.fetch("session")'))
    second = analyze([repo], cwd=repo)
    assert second.model.restored
    assert codes(second) == codes(fresh(repo)) and ("analysis.py", 17, "DJ201") not in codes(second)
    assert second.model.by_path["analysis.py"].source == path.read_text()
    # and back: the sideways read is found again from the same snapshot
    path.write_text(path.read_text().replace('Session.fetch("session")', 'Rig.fetch("rig")'))
    third = analyze([repo], cwd=repo)
    assert third.model.restored and codes(third) == codes(first)


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda s: s.replace("from lab import Rig, Session", "from lab import Session, Subject as Rig"),
                     id="changed-import"),
        pytest.param(lambda s: s + "\n\nclass Extra(dj.Lookup):\n    definition = 'x: int'\n", id="new-class"),
        pytest.param(lambda s: s.replace("    def make", "    def other(self):\n        pass\n\n    def make"),
                     id="new-method"),
        pytest.param(lambda s: s.replace("total: float", "total: float\n    count: int"), id="new-attribute"),
        pytest.param(lambda s: s.replace("-> Session", "-> Session\n    -> Rig"), id="new-foreign-key"),
    ],
)
def test_an_edit_that_changes_a_summary_rebuilds(tmp_path: Path, edit) -> None:
    repo = make_repo(tmp_path / "repo")
    analyze([repo], cwd=repo)
    path = repo / "analysis.py"
    path.write_text(edit(path.read_text()))
    second = analyze([repo], cwd=repo)
    assert not second.model.restored
    assert codes(second) == codes(fresh(repo))


def test_added_or_removed_files_rebuild(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    analyze([repo], cwd=repo)
    (repo / "notes.py").write_text("x = 1\n")
    assert not analyze([repo], cwd=repo).model.restored
    (repo / "notes.py").unlink()
    assert not analyze([repo], cwd=repo).model.restored
    assert analyze([repo], cwd=repo).model.restored


def test_a_file_that_stops_parsing_rebuilds_and_is_reported(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    analyze([repo], cwd=repo)
    (repo / "analysis.py").write_text("def broken(:\n")
    result = analyze([repo], cwd=repo)
    assert not result.model.restored and ("analysis.py", 1, "DJ000") in codes(result)


class _Planted:
    """Unpickling this runs code: what a snapshot shipped inside a repository could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def sealed(target: Path, data: bytes, key: bytes) -> bytes:
    """``data`` signed with ``key`` as djlint signs the snapshot file ``target``."""
    entry_key = target.name.removeprefix("model-").removesuffix(".snapshot")
    store = Store(target.parent, "snapshot", "model-{}.snapshot", keep=snapshot_module.KEEP)
    blob = store.seal(entry_key, data, key)
    assert blob is not None
    return blob


def test_a_snapshot_not_signed_with_the_users_key_is_never_unpickled(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    expected = codes(analyze([repo], cwd=repo))
    (target,) = snapshots(repo)
    data = target.read_bytes()[:-TAG_SIZE]
    _, stored_body = snapshot_module.split(data)
    marker = tmp_path / "pwned"
    forged = data[: len(data) - len(stored_body)] + pickle.dumps(_Planted(marker))
    target.write_bytes(sealed(target, forged, b"\0" * 32))  # signed with another key
    (repo / "analysis.py").write_text((repo / "analysis.py").read_text() + "\n# a comment\n")
    result = analyze([repo], cwd=repo)
    assert not marker.exists()
    assert not result.model.restored and codes(result) == expected


class _RecordingMarshal:
    """Stands in for ``marshal`` in djlint.snapshot: records what it is asked to decode."""

    def __init__(self) -> None:
        self.decoded: list[bytes] = []

    def loads(self, data: bytes):
        self.decoded.append(bytes(data))
        return marshal.loads(data)

    def dumps(self, value) -> bytes:
        return marshal.dumps(value)


@pytest.mark.parametrize("signer", ["none", "another user"])
def test_a_tampered_snapshot_header_is_never_unmarshalled(tmp_path: Path, monkeypatch, signer: str) -> None:
    """The signature is checked first: a file table that does not verify never reaches ``marshal``."""
    repo = make_repo(tmp_path / "repo")
    expected = codes(analyze([repo], cwd=repo))
    (target,) = snapshots(repo)
    blob = target.read_bytes()
    data, tag = blob[:-TAG_SIZE], blob[-TAG_SIZE:]
    table, _ = snapshot_module.split(data)
    header = marshal.dumps({display: ("0" * 32, *hashes[1:]) for display, hashes in table.items()})
    start = len(snapshot_module._MAGIC) + snapshot_module._LENGTH.size
    length = len(marshal.dumps(table))
    forged = data[: start - snapshot_module._LENGTH.size] + snapshot_module._LENGTH.pack(len(header)) + header
    forged += data[start + length :]
    target.write_bytes(forged + tag if signer == "none" else sealed(target, forged, b"\1" * 32))
    recording = _RecordingMarshal()
    monkeypatch.setattr(snapshot_module, "marshal", recording)
    result = analyze([repo], cwd=repo)
    assert recording.decoded == []
    assert not result.model.restored and codes(result) == expected
    # the look-alike: the snapshot the rebuild wrote is genuine, and its table is decoded
    again = analyze([repo], cwd=repo)
    assert again.model.restored and len(recording.decoded) == 1 and codes(again) == expected


def test_a_corrupt_snapshot_is_rebuilt(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    expected = codes(analyze([repo], cwd=repo))
    (target,) = snapshots(repo)
    target.write_bytes(b"DJLS\xff\xff\xff\xffgarbage" + b"\0" * 40)
    (repo / "analysis.py").write_text((repo / "analysis.py").read_text() + "\n# a comment\n")
    result = analyze([repo], cwd=repo)
    assert not result.model.restored and codes(result) == expected
    assert snapshot_module.split(target.read_bytes()[:-TAG_SIZE])[0]  # rewritten, valid
    assert analyze([repo], cwd=repo).model.restored


def test_without_a_private_cache_directory_there_is_no_snapshot(tmp_path: Path, monkeypatch) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    repo = make_repo(tmp_path / "repo")
    first = analyze([repo], cwd=repo)
    assert snapshots(repo) == [] and codes(first) == codes(fresh(repo))


def test_moved_lines_reuse_the_model_with_moved_positions(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    first = analyze([repo], cwd=repo).model
    for name, marker in (("analysis.py", "    def make"), ("lab.py", "@schema\nclass Rig")):
        path = repo / name
        path.write_text(path.read_text().replace(marker, "# two lines\n# moved\n" + marker, 1))
    second = analyze([repo], cwd=repo)
    assert second.model.restored
    assert ("analysis.py", 19, "DJ201") in codes(second)
    assert positions(second.model) == positions(fresh(repo).model)
    assert second.model.tables["lab.Rig"].line == first.tables["lab.Rig"].line + 2
    assert second.model.functions["analysis.Summary.make"].line == first.functions["analysis.Summary.make"].line + 2
    assert second.model.tables["lab.Subject"].line == first.tables["lab.Subject"].line  # above the new lines


def positions(model) -> dict[str, object]:
    """Every line and column the model holds, and the build's own findings."""
    def definition(d):
        if d is None:
            return None
        return (d.line, d.problems, [(a.name, a.line, a.column) for a in d.attributes],
                [(f.text, f.line, f.column) for f in d.foreign_keys])

    return {
        "tables": {t.id: (t.line, t.column, t.path, t.definition_path, definition(t.definition))
                   for t in model.tables.values()},
        "classes": {c.id: (c.line, c.column, sorted(c.aliases.items())) for c in model.classes.values()},
        "functions": {f.id: (f.line, f.column) for f in model.functions.values()},
        "methods": {(c.id, m): (f.id, f.line, f.column) for c in model.classes.values() for m, f in c.methods.items()},
        "bindings": {m: sorted(map(repr, b.items())) for m, b in model._bindings.items()},
        "broken": dict(model.broken),
        "findings": [d for code in ("DJ000", "DJ001", "DJ003") for d in REGISTRY[code].check(model, None)],
        "policy_names": list(model.policy_names),
        "unknown_names": dict(model._built_unknown_names),
    }


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()))
def test_random_line_moves_give_what_a_fresh_build_gives(tmp_path: Path, fixture: str) -> None:
    """Blank lines added and removed at random places (inside definitions too), several files at a
    time: the restored model must hold exactly the positions and findings of a fresh build."""
    import random
    import shutil

    repo = tmp_path / fixture
    shutil.copytree(FIXTURES / fixture, repo, ignore=shutil.ignore_patterns(".djlint_cache", "__pycache__"))
    sources = sorted(repo.rglob("*.py"))
    random_ = random.Random(fixture)
    analyze([repo], cwd=repo)
    restored = 0
    for _ in range(4):
        for path in random_.sample(sources, k=min(2, len(sources))):
            lines = path.read_text(encoding="latin-1").split("\n")  # any bytes, written back unchanged
            for _ in range(random_.randint(1, 3)):
                at = random_.randrange(len(lines) + 1)
                if random_.random() < 0.3 and at < len(lines) and not lines[at].strip():
                    del lines[at]
                else:
                    lines.insert(at, "")
            path.write_text("\n".join(lines), encoding="latin-1")
        again = analyze([repo], cwd=repo)
        built = fresh(repo)
        assert again.diagnostics == built.diagnostics
        assert positions(again.model) == positions(built.model)
        restored += again.model.restored
    assert restored, "no edit was answered from the snapshot: the test tests nothing"


def test_only_the_latest_few_snapshots_are_kept(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    for index in range(snapshot_module.KEEP + 3):  # each configuration is a scope of its own
        analyze([repo], snapshot_config(repo, index), cwd=repo)
    assert len(snapshots(repo)) == snapshot_module.KEEP


def snapshot_config(repo: Path, index: int):
    from djlint.config import Config

    return Config(root=repo, ignore=(f"DJ9{index:02d}",))


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()))
def test_random_structural_edits_give_what_a_fresh_build_gives(tmp_path: Path, fixture: str) -> None:
    """Imports added and global names rebound at random (the model is rebuilt; the make() facts cache
    must re-analyse every make() whose names now mean something else): the same findings as a run
    without any cache."""
    import ast
    import random
    import shutil

    repo = tmp_path / fixture
    shutil.copytree(FIXTURES / fixture, repo, ignore=shutil.ignore_patterns(".djlint_cache", "__pycache__"))
    sources = sorted(repo.rglob("*.py"))
    random_ = random.Random(f"structure-{fixture}")
    analyze([repo], cwd=repo)
    imported = _names_imported_for_makes(sources)  # (defining file, name) pairs other modules' make() uses
    for step in range(4):
        if imported and random_.random() < 0.6:  # rebind, where it is defined, a name a make() imports
            path, name = random_.choice(imported)
        else:
            path, name = random_.choice(sources), None
        text = path.read_text(encoding="latin-1")  # any bytes, written back unchanged
        try:
            names = sorted({target.id for node in ast.parse(text).body if isinstance(node, ast.Assign)
                            for target in node.targets if isinstance(target, ast.Name)}
                           | {node.name for node in ast.parse(text).body if isinstance(node, ast.ClassDef)}
                           | {(alias.asname or alias.name).split(".")[0] for node in ast.parse(text).body
                              if isinstance(node, (ast.Import, ast.ImportFrom)) for alias in node.names
                              if alias.name != "*"})
        except SyntaxError:
            continue
        if len(names) >= 2 and random_.random() < 0.8:
            name = name or random_.choice(names)
            other = random_.choice([n for n in names if n != name])
            text += f"\n{name} = {other}  # rebound\n"
        else:
            text = f"import os as _unused{step}\n" + text
        path.write_text(text, encoding="latin-1")
        assert analyze([repo], cwd=repo).diagnostics == fresh(repo).diagnostics, (path.name, step)


def _names_imported_for_makes(sources: list[Path]) -> list[tuple[Path, str]]:
    """(file defining it, name) for each ``from module import name`` whose name a make() body uses."""
    import ast

    by_stem = {source.stem: source for source in sources}
    found: set[tuple[Path, str]] = set()
    for source in sources:
        try:
            tree = ast.parse(source.read_text(encoding="latin-1"))
        except SyntaxError:
            continue
        used = {n.id for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                and node.name in ("make", "_make_tuples", "make_fetch") for n in ast.walk(node)
                if isinstance(n, ast.Name)}
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module:
                defining = by_stem.get(node.module.rsplit(".", 1)[-1])
                for alias in node.names:
                    if defining is not None and defining != source and (alias.asname or alias.name) in used:
                        found.add((defining, alias.name))
    return sorted(found)


def test_a_file_edited_during_a_run_is_not_cached_under_its_old_content(tmp_path: Path, monkeypatch) -> None:
    """The whole-result cache records the contents the analysis read: a file edited between the cache
    key and the analysis (then reverted) must not be answered with the edited file's findings."""
    from djlint import cache
    from djlint.config import load_config

    monkeypatch.delenv("DJLINT_NO_CACHE", raising=False)
    repo = make_repo(tmp_path / "repo")
    path = repo / "analysis.py"
    original_text = path.read_text()
    original = cache._run_analysis

    def edit_meanwhile(paths, config, root, use_cache=True):
        path.write_text(original_text.replace('Rig.fetch("rig")', 'Session.fetch("session")'))
        return original(paths, config, root, use_cache)

    monkeypatch.setattr(cache, "_run_analysis", edit_meanwhile)
    during = cache.analyze_cached([repo], load_config(repo), cwd=repo)
    assert not any(d.code == "DJ201" for d in during)  # the edited text was analysed
    monkeypatch.setattr(cache, "_run_analysis", original)
    path.write_text(original_text)  # back to the content the key was computed from
    after = cache.analyze_cached([repo], load_config(repo), cwd=repo)
    assert any(d.code == "DJ201" and d.path == "analysis.py" for d in after)
