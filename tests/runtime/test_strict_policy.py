"""Strict gate, the policy ``[tool.djlint.allow]``: extra reads and writes honoured, names resolved to
tables (Parts included), a name that matches no table an error.
"""

from __future__ import annotations

import pytest
from strict_helpers import KEY, assert_blocked, insert_own, run_make

from djruntime import strict
from djruntime.strict import PolicyError


def _policy_file(tmp_path, reads=(), writes=(), table="strict_pipeline.Analysis"):
    path = tmp_path / "policy" / "pyproject.toml"
    path.parent.mkdir(exist_ok=True)
    quoted = lambda names: "[" + ", ".join(f'"{n}"' for n in names) + "]"
    path.write_text(f'[tool.djlint.allow."{table}"]\nreads = {quoted(reads)}\nwrites = {quoted(writes)}\n')
    return path


def test_policy_reads_and_writes_are_honoured(pipe, tmp_path):
    strict.configure(strict_provenance=True, policy=_policy_file(
        tmp_path, reads=["strict_pipeline.Other"],
        writes=["strict_pipeline.Other", "strict_pipeline.Sibling"]))
    try:
        seen = []

        def body(self, key):
            seen.append(len(pipe.Other()))
            pipe.Other.insert1({"other_id": 9})
            pipe.Sibling.insert1({"subject_id": 1, "session_id": 1, "x": 1.0}, allow_direct_insert=True)
            insert_own(self, key)

        run_make(pipe.Analysis, KEY, body)
        assert seen == [2] and len(pipe.Other & {"other_id": 9}) == 1 and len(pipe.Sibling()) == 1
        # the policy's writes are still row-checked against the key
        assert_blocked(pipe, lambda self, key: pipe.Sibling.insert1({"subject_id": 2, "session_id": 1, "x": 1.0},
                                                                    allow_direct_insert=True),
                       "subject_id", key=dict(KEY, param_id=2))
        # and it sanctions nothing else
        assert_blocked(pipe, lambda self, key: len(pipe.Downstream()), "Downstream", key=dict(KEY, param_id=2))
        assert_blocked(pipe, lambda self, key: pipe.Subject.insert1({"subject_id": 1}), "Subject",
                       key=dict(KEY, param_id=2))
    finally:
        strict.configure(strict_provenance=False)


@pytest.mark.parametrize("bad", ["strict_pipeline.NoSuchTable", "no_such_module.Table"])
def test_policy_name_matching_no_table_is_an_error(pipe, tmp_path, empty_policy, bad):
    strict.configure(strict_provenance="warn", policy=empty_policy)
    try:
        with pytest.raises(PolicyError) as caught:
            strict.configure(strict_provenance=True, policy=_policy_file(tmp_path, reads=[bad]))
        assert bad in str(caught.value) and "matches no table" in str(caught.value)
        assert strict.mode() == "warn"  # the previous setting stays
        with pytest.raises(PolicyError):
            strict.configure(strict_provenance=True, policy=_policy_file(tmp_path, table=bad))
    finally:
        strict.configure(strict_provenance=False)


def test_policy_names_resolve_to_tables_parts_included(pipe):
    from djruntime.strict import policy

    assert policy.table_of("strict_pipeline.Analysis.Item") == policy.parse_full_name(
        pipe.Analysis.Item.full_table_name)
    assert policy.table_of("strict_pipeline.Other") == (pipe.Other.database, "other")
    for bad in ["strict_pipeline.build", "strict_pipeline.Analysis.Nothing", "nomodule.X", "Other"]:
        with pytest.raises(PolicyError):
            policy.table_of(bad)
