"""The caches in the analysed repository cannot hide findings or crash the linter (issue 14 items 9
and 10), through the real ``djlint`` command.

A repository (or a CI cache restored from a pull request) controls its ``.djlint_cache``: every cache
file there is authenticated with the user's own key, and one that does not verify is treated as
absent; no cache write follows a symlink.
"""

from __future__ import annotations

import json
import marshal
import os
import re
from pathlib import Path

import pytest

from djlint import cachestore
from hostile import FINDINGS, findings, make_pipeline, run


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_pipeline(tmp_path / "repo")


def cache_dir(repo: Path) -> Path:
    return repo / ".djlint_cache"


def fresh_clone(repo: Path) -> None:
    """Leave only the packs, as a repository shipping its cache would: no result entry, no snapshot."""
    for entry in (cache_dir(repo) / "results").glob("*.json"):
        entry.unlink()
    for snapshot in cache_dir(repo).glob("model-*.snapshot"):
        snapshot.unlink()


def pack(repo: Path, prefix: str) -> Path:
    (found,) = cache_dir(repo).glob(f"{prefix}-*.pack")
    return found


def hide_everything(kind: str, data: bytes) -> bytes:
    """A forged version of a cache file's contents that makes the analysis find nothing."""
    if kind == "summaries":  # every module summarised as holding no class: no table, no make()
        entries = marshal.loads(data)
        return marshal.dumps({key: {**value, "classes": []} for key, value in entries.items()})
    if kind == "makeflow":  # every make() analysed as reading and writing nothing
        entries = marshal.loads(data)
        return marshal.dumps({key: (*entry[:3], (), ()) for key, entry in entries.items()})
    raise AssertionError(kind)


def user_env(tmp_path: Path, name: str) -> dict[str, str]:
    return {**os.environ, "XDG_CACHE_HOME": str(tmp_path / name)}


def user_key(env: dict[str, str]) -> bytes:
    return (Path(env["XDG_CACHE_HOME"]) / "djlint" / cachestore.KEY_FILE).read_bytes()


def signed(path: Path, kind: str, data: bytes, key: bytes) -> bytes:
    """``data`` signed with ``key`` exactly as djlint signs the cache file ``path`` of ``kind``."""
    (entry_key,) = re.findall(r"[0-9a-f]{32}", path.name)
    store = cachestore.Store(path.parent, kind, path.name.replace(entry_key, "{}"), keep=1)
    sealed = store.seal(entry_key, data, key)
    assert sealed is not None
    return sealed


def body_of(entry: Path) -> dict:
    """The JSON document a result entry signs (its tag follows it)."""
    return json.loads(entry.read_bytes()[: -cachestore.TAG_SIZE])


# --------------------------------------------------------------------------------------------------
# item 9: an edited or forged cache file is absent


def test_an_edited_result_entry_does_not_hide_findings(repo: Path) -> None:
    assert findings(run("djlint", cwd=repo)) == FINDINGS
    (entry,) = (cache_dir(repo) / "results").glob("*.json")
    blob = entry.read_bytes()
    body = body_of(entry)
    assert body["diagnostics"]
    body["diagnostics"] = []  # keep the tag, edit what it signs
    entry.write_bytes(json.dumps(body).encode() + blob[-cachestore.TAG_SIZE :])
    result = run("djlint", cwd=repo)
    assert result.returncode == 1 and findings(result) == FINDINGS


def test_a_plain_result_entry_does_not_hide_findings(repo: Path) -> None:
    run("djlint", cwd=repo)
    (entry,) = (cache_dir(repo) / "results").glob("*.json")
    key = entry.stem
    plain = json.dumps({"format": 3, "key": key, "files": {}, "diagnostics": []}).encode()
    for document in (
        plain,
        plain + b"\0" * cachestore.TAG_SIZE,
        json.dumps({"tag": "00" * 32, "body": plain.decode()}).encode(),
        json.dumps({"tag": 5, "body": None}).encode(),
        b"",
    ):
        entry.write_bytes(document)
        result = run("djlint", cwd=repo)
        assert result.returncode == 1 and findings(result) == FINDINGS and "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", ["summaries", "makeflow"])
def test_an_unsigned_pack_does_not_hide_findings(repo: Path, kind: str) -> None:
    run("djlint", cwd=repo)
    fresh_clone(repo)
    target = pack(repo, kind)
    target.write_bytes(hide_everything(kind, target.read_bytes()))
    result = run("djlint", cwd=repo)
    assert result.returncode == 1 and findings(result) == FINDINGS, result.stderr


@pytest.mark.parametrize("kind", ["summaries", "makeflow"])
def test_a_pack_signed_with_another_users_key_does_not_hide_findings(repo: Path, tmp_path: Path, kind: str) -> None:
    attacker, victim = user_env(tmp_path, "attacker"), user_env(tmp_path, "victim")
    run("djlint", cwd=repo, env=attacker)
    fresh_clone(repo)
    target = pack(repo, kind)
    forged = hide_everything(kind, target.read_bytes())
    target.write_bytes(signed(target, kind, forged, user_key(attacker)))
    # the packs are really read: under the key that signed them, the forgery hides everything ...
    assert run("djlint", cwd=repo, env=attacker).stdout == ""
    fresh_clone(repo)
    target.write_bytes(signed(target, kind, forged, user_key(attacker)))
    # ... but no other user trusts them
    result = run("djlint", cwd=repo, env=victim)
    assert result.returncode == 1 and findings(result) == FINDINGS, result.stderr


def test_a_result_entry_signed_with_another_users_key_is_absent(repo: Path, tmp_path: Path) -> None:
    attacker, victim = user_env(tmp_path, "attacker"), user_env(tmp_path, "victim")
    run("djlint", cwd=repo, env=attacker)
    (entry,) = (cache_dir(repo) / "results").glob("*.json")
    body = body_of(entry)
    body["diagnostics"] = []
    entry.write_bytes(signed(entry, "results", json.dumps(body).encode(), user_key(attacker)))
    assert run("djlint", cwd=repo, env=attacker).stdout == ""  # the entry is really read
    result = run("djlint", cwd=repo, env=victim)
    assert result.returncode == 1 and findings(result) == FINDINGS


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda entries: {key: {"classes": 5} for key in entries}, id="classes-not-a-list"),
        pytest.param(lambda entries: {key: {"classes": [{"name": 1}]} for key in entries}, id="bad-record"),
        pytest.param(lambda entries: {key: [1, 2] for key in entries}, id="not-a-dict"),
        pytest.param(lambda entries: [1, 2, 3], id="not-a-table"),
    ],
)
def test_malformed_summary_records_are_ignored(repo: Path, damage) -> None:
    run("djlint", cwd=repo)
    fresh_clone(repo)
    target = pack(repo, "summaries")
    target.write_bytes(marshal.dumps(damage(marshal.loads(target.read_bytes()))))
    result = run("djlint", cwd=repo)
    assert result.returncode == 1 and findings(result) == FINDINGS and "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["results", "summaries", "makeflow"])
def test_a_cache_file_that_is_a_symlink_to_a_device_is_not_read(repo: Path, name: str) -> None:
    run("djlint", cwd=repo)
    if name == "results":
        (target,) = (cache_dir(repo) / "results").glob("*.json")
    else:
        fresh_clone(repo)
        target = pack(repo, name)
    target.unlink()
    target.symlink_to("/dev/zero")
    result = run("djlint", cwd=repo)
    assert result.returncode == 1 and findings(result) == FINDINGS, result.stderr[-2000:]


# --------------------------------------------------------------------------------------------------
# item 10: never follow a symlink when writing


def test_a_dangling_gitignore_symlink_is_not_followed(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside" / "created-by-djlint"
    outside.parent.mkdir()
    cache_dir(repo).mkdir()
    (cache_dir(repo) / ".gitignore").symlink_to(outside)
    result = run("djlint", cwd=repo)
    assert result.returncode == 1 and findings(result) == FINDINGS
    assert not outside.exists()


def test_a_dangling_lock_symlink_is_not_followed(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside" / "lock-created-by-djlint"
    outside.parent.mkdir()
    (cache_dir(repo) / "results").mkdir(parents=True)
    (cache_dir(repo) / "results" / ".lock").symlink_to(outside)
    result = run("djlint", cwd=repo)
    assert result.returncode == 1 and findings(result) == FINDINGS
    assert not outside.exists()


@pytest.mark.parametrize("link", [".djlint_cache", ".djlint_cache/results"])
def test_a_symlinked_cache_directory_is_not_written_through(repo: Path, tmp_path: Path, link: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / link).parent.mkdir(parents=True, exist_ok=True)
    (repo / link).symlink_to(outside, target_is_directory=True)
    for _ in range(2):
        result = run("djlint", cwd=repo)
        assert result.returncode == 1 and findings(result) == FINDINGS and "Traceback" not in result.stderr
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("configured", ["build", "build/cache", "build/deeper/cache"])
def test_a_configured_cache_dir_under_a_symlink_is_not_written_through(
    repo: Path, tmp_path: Path, configured: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "build").symlink_to(outside, target_is_directory=True)
    (repo / "pyproject.toml").write_text(f'[project]\nname = "pipeline"\n\n[tool.djlint]\ncache-dir = "{configured}"\n')
    for _ in range(2):
        result = run("djlint", cwd=repo)
        assert result.returncode == 1 and findings(result) == FINDINGS and "Traceback" not in result.stderr
    assert list(outside.iterdir()) == []


def test_a_configured_cache_dir_is_created_inside_the_repository(repo: Path) -> None:
    (repo / "pyproject.toml").write_text('[project]\nname = "pipeline"\n\n[tool.djlint]\ncache-dir = "build/cache"\n')
    assert findings(run("djlint", cwd=repo)) == FINDINGS
    assert (repo / "build" / "cache" / "results").is_dir() and (repo / "build" / "cache" / ".gitignore").is_file()
    assert list((repo / "build" / "cache").glob("summaries-*.pack"))


def test_a_cache_file_symlink_is_replaced_not_followed(repo: Path, tmp_path: Path) -> None:
    run("djlint", cwd=repo)
    fresh_clone(repo)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    target = pack(repo, "summaries")
    target.unlink()
    target.symlink_to(victim)
    (repo / "pipeline" / "new.py").write_text("x = 1\n")  # a new summary: the pack is rewritten
    assert findings(run("djlint", cwd=repo)) == FINDINGS
    assert victim.read_text() == "precious\n" and not target.is_symlink()


def test_genuine_caches_are_still_used(repo: Path) -> None:
    """The look-alike: the user's own caches answer the next run (no rebuild, same report)."""
    first = run("djlint", cwd=repo)
    (entry,) = (cache_dir(repo) / "results").glob("*.json")
    written = entry.stat().st_mtime_ns
    second = run("djlint", cwd=repo)
    assert second.stdout == first.stdout and findings(second) == FINDINGS
    assert entry.stat().st_mtime_ns == written
    assert (cache_dir(repo) / ".gitignore").read_text().strip().endswith("*")
