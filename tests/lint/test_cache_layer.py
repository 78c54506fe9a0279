"""The one cache layer (djlint.cachestore): one invalidation rule for every cache kind - the inputs,
djlint's own sources and the Python version - and signatures checked before anything is decoded."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from djlint import cache, cachestore, summaries
from djlint.cachestore import Store
from djlint.config import load_config
from djlint.makeflow import interpreter
from djlint.snapshot import ModelSnapshot
from hostile import make_pipeline

KINDS = {"summaries": "summaries-*.pack", "makeflow": "makeflow-*.pack", "snapshot": "model-*.snapshot",
         "results": "results/*.json"}


def test_every_byte_of_djlints_sources_is_in_the_digest(tmp_path: Path) -> None:
    package = tmp_path / "djlint"
    shutil.copytree(Path(cachestore.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    original = cachestore.digest_of_sources(package)
    assert original == cachestore.sources_digest()
    sources = sorted(package.rglob("*.py"))
    chooser = random.Random(17)
    for source in [*chooser.sample(sources, 8), package / "rules" / "__init__.py"]:
        data = bytearray(source.read_bytes())
        position = chooser.randrange(len(data))
        data[position] ^= 0x01
        source.write_bytes(bytes(data))
        assert cachestore.digest_of_sources(package) != original, (source, position)
        data[position] ^= 0x01
        source.write_bytes(bytes(data))
        assert cachestore.digest_of_sources(package) == original
    (package / "rules" / "dj999_new.py").write_text("")  # a new module, even an empty one
    assert cachestore.digest_of_sources(package) != original


class Counters:
    """What a run computed instead of reading from a cache."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.analyses = self.summarised = self.makes = 0
        self.restored: list[bool] = []
        run_analysis, summarise = cache._run_analysis, summaries.parse_and_summarize
        run_entry, restore = interpreter.MakeRun.run_entry, ModelSnapshot.restore

        def counting_analysis(*args, **kwargs):
            self.analyses += 1
            return run_analysis(*args, **kwargs)

        def counting_summary(data):
            self.summarised += 1
            return summarise(data)

        def counting_make(run, *args):
            self.makes += 1
            return run_entry(run, *args)

        def recording_restore(snapshot, *args):
            model = restore(snapshot, *args)
            self.restored.append(model is not None)
            return model

        monkeypatch.setattr(cache, "_run_analysis", counting_analysis)
        monkeypatch.setattr(summaries, "parse_and_summarize", counting_summary)
        monkeypatch.setattr(interpreter.MakeRun, "run_entry", counting_make)
        monkeypatch.setattr(ModelSnapshot, "restore", recording_restore)


def lint(repo: Path) -> list:
    return cache.analyze_cached([repo], load_config(repo), cwd=repo)


def files_of(repo: Path) -> dict[str, set[Path]]:
    return {kind: set((repo / ".djlint_cache").glob(pattern)) for kind, pattern in KINDS.items()}


@pytest.mark.parametrize("change", ["a byte of djlint's sources", "the Python version"])
def test_another_djlint_or_python_reads_no_cache_of_any_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    monkeypatch.delenv("DJLINT_NO_CACHE", raising=False)
    repo = make_pipeline(tmp_path / "repo")
    expected = lint(repo)
    written = files_of(repo)
    assert all(len(found) == 1 for found in written.values()), written
    counters = Counters(monkeypatch)
    assert lint(repo) == expected and counters.analyses == 0  # the look-alike: a whole-result hit
    (next(iter(written["results"]))).unlink()
    assert lint(repo) == expected and counters.analyses == 1
    assert counters.restored == [True] and counters.summarised == 0 and counters.makes == 0  # all hits

    counters = Counters(monkeypatch)
    if change == "the Python version":
        monkeypatch.setattr(cachestore, "python_version", lambda: "cpython-99 (another build)")
    else:
        edited = cachestore.sources_digest()[::-1]  # what any edit of a source does (test above)
        monkeypatch.setattr(cachestore, "_sources_digest", [edited])
    assert lint(repo) == expected
    modules = len(list(repo.rglob("*.py")))
    assert counters.analyses == 1 and counters.restored == [False]
    assert counters.summarised == modules and counters.makes > 0
    now = files_of(repo)
    for kind in KINDS:  # every kind was written again, under another name; the old file was not touched
        assert len(now[kind]) == 2 and written[kind] <= now[kind], kind


def test_a_file_of_another_python_or_djlint_does_not_verify_under_this_ones_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path / "cache", "summaries", "summaries-{}.pack", keep=4)
    key = store.key("inputs")
    assert store.store(key, b"data") and store.load(key) == b"data"
    blob = store.path(key).read_bytes()
    for name, value in (("python_version", lambda: "cpython-99"), ("_sources_digest", ["0" * 32])):
        with monkeypatch.context() as patched:
            patched.setattr(cachestore, name, value)
            other = store.key("inputs")
            assert other != key and store.load(other) is None
            store.path(other).write_bytes(blob)  # the file renamed to the name this one would read
            assert store.load(other) is None
    assert store.load(key) == b"data"


def test_a_store_returns_nothing_that_does_not_verify(tmp_path: Path) -> None:
    store = Store(tmp_path / "cache", "results", "{}.json", keep=4, subdirectory="results")
    key = store.key({"a": 1})
    assert store.load(key) is None
    assert store.store(key, b"{}")
    path = store.path(key)
    blob = path.read_bytes()
    for damaged in (blob[:-1], b"", blob[:1] + bytes([blob[1] ^ 1]) + blob[2:], b"x" + blob[1:]):
        path.write_bytes(damaged)
        assert store.load(key) is None
    other = Store(tmp_path / "cache", "makeflow", "{}.json", keep=4, subdirectory="results")
    path.write_bytes(blob)
    assert other.load(key) is None  # a file of one kind never passes for another
    assert store.load(key) == b"{}"


def test_only_the_newest_files_of_a_kind_are_kept(tmp_path: Path) -> None:
    store = Store(tmp_path / "cache", "results", "{}.json", keep=3, subdirectory="results")
    for index in range(6):
        assert store.store(store.key(index), b"x")
    assert len(list((tmp_path / "cache" / "results").glob("*.json"))) == 3
