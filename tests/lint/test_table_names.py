"""djlint's table-name convention (raw SQL in make() maps back to classes) is datajoint 2.3's, written
independently (djlint never imports datajoint) and checked against datajoint's own function here."""

from __future__ import annotations

import warnings

import datajoint
import pytest
from datajoint.utils import from_camel_case as datajoint_from_camel_case
from hypothesis import given
from hypothesis import strategies as st

from djlint.makeflow.names import from_camel_case, table_name


def _datajoint(name: str) -> str | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # datajoint warns about underscores in class names
        try:
            return datajoint_from_camel_case(name)
        except datajoint.DataJointError:
            return None


@pytest.mark.parametrize(
    "name", ["SpikeSorting", "Session", "ABC", "Probe2Insertion", "Curated_Clustering", "lowercase", "_Hidden",
             "Ünïcode", "With Space", "", "X"],
)
def test_examples_agree_with_datajoint(name: str) -> None:
    assert from_camel_case(name) == _datajoint(name)


@given(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True))
def test_every_identifier_agrees_with_datajoint(name: str) -> None:
    assert from_camel_case(name) == _datajoint(name)


def test_table_names_follow_the_tier_prefixes() -> None:
    assert table_name("Session", "Manual") == "session"
    assert table_name("ProbeType", "Lookup") == "#probe_type"
    assert table_name("EphysRecording", "Imported") == "_ephys_recording"
    assert table_name("CuratedClustering", "Computed") == "__curated_clustering"
    assert table_name("Clustering.Unit", "Part", "Computed") == "__clustering__unit"
    assert table_name("Unit", "Part", "Computed") is None  # a Part needs its master
    assert table_name("Clustering.unit", "Part", "Computed") is None  # datajoint refuses the name
