"""Report formats: text, JSON, GitHub annotations, SARIF 2.1.0 (checked against the parts of the schema
and of GitHub code scanning's requirements that a structural check can verify)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from djlint.diagnostics import Diagnostic
from djlint.output import (
    RuleDoc,
    fingerprint,
    format_explain,
    format_github,
    format_json,
    format_sarif,
    format_statistics,
    format_text,
    is_informational,
    rule_docs,
)

DIAGNOSTICS = [
    Diagnostic("pipeline/analysis.py", 12, 9, "DJ201", "Clustering.make reads Probe (`lab`.`probe`)"),
    Diagnostic("pipeline/analysis.py", 30, 5, "DJ301", "writes to Session, which is not Clustering"),
    Diagnostic("pipeline/ephys.py", 3, 1, "DJ001", "unknown name Subject: DJ201 skipped, 100%, a,b:c"),
]
DOCS = {
    "DJ201": RuleDoc("DJ201", "sideways-read", "make() reads a table outside its upstream", "Why text.", "bad()", "good()"),
    "DJ301": RuleDoc("DJ301", "cross-table-write", "make() writes another table", "Because."),
}


def test_text_is_path_line_col_code_message():
    assert format_text(DIAGNOSTICS).splitlines() == [
        "pipeline/analysis.py:12:9: DJ201 Clustering.make reads Probe (`lab`.`probe`)",
        "pipeline/analysis.py:30:5: DJ301 writes to Session, which is not Clustering",
        "pipeline/ephys.py:3:1: DJ001 unknown name Subject: DJ201 skipped, 100%, a,b:c",
    ]
    assert format_text([]) == ""


def test_json_is_an_array_of_the_five_fields():
    records = json.loads(format_json(DIAGNOSTICS))
    assert records[0] == {
        "path": "pipeline/analysis.py",
        "line": 12,
        "column": 9,
        "code": "DJ201",
        "message": "Clustering.make reads Probe (`lab`.`probe`)",
    }
    assert [set(r) for r in records] == [{"path", "line", "column", "code", "message"}] * 3
    assert json.loads(format_json([])) == []


def test_github_annotations_escape_properties_and_data():
    lines = format_github(DIAGNOSTICS).splitlines()
    assert lines[0] == (
        "::error file=pipeline/analysis.py,line=12,col=9,title=DJ201::"
        "DJ201 Clustering.make reads Probe (`lab`.`probe`)"
    )
    # informational findings are notices, never errors; '%' is escaped in data, ':' ',' only in properties
    assert lines[2] == (
        "::notice file=pipeline/ephys.py,line=3,col=1,title=DJ001::"
        "DJ001 unknown name Subject: DJ201 skipped, 100%25, a,b:c"
    )
    weird = Diagnostic("a,b:c.py", 1, 1, "DJ201", "two\nlines")
    assert format_github([weird]) == "::error file=a%2Cb%3Ac.py,line=1,col=1,title=DJ201::DJ201 two%0Alines\n"


def test_only_dj001_is_informational():
    assert is_informational("DJ001")
    assert not any(is_informational(code) for code in ("DJ000", "DJ003", "DJ101", "DJ201", "DJ401"))


def _check_sarif_structure(log: dict) -> None:
    """What GitHub code scanning requires of an upload (docs: 'SARIF support for code scanning')."""
    assert log["version"] == "2.1.0"
    assert log["$schema"].startswith("https://") and "sarif" in log["$schema"]
    assert isinstance(log["runs"], list) and len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "djlint"
    assert driver["informationUri"].startswith("https://")
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    for rule in driver["rules"]:
        assert re.fullmatch(r"DJ\d{3}", rule["id"])
        assert isinstance(rule["name"], str) and rule["name"]
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["helpUri"].startswith("https://")
        assert rule["defaultConfiguration"]["level"] in ("none", "note", "warning", "error")
    for result in run["results"]:
        assert result["ruleId"] in rule_ids
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("none", "note", "warning", "error")
        assert isinstance(result["message"]["text"], str) and result["message"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        assert not uri.startswith("/") and "\\" not in uri and "://" not in uri
        region = physical["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1


def test_sarif_has_what_code_scanning_needs():
    log = json.loads(format_sarif(DIAGNOSTICS, DOCS, line_text=lambda d: "x = 1", source_root=Path("/tmp")))
    _check_sarif_structure(log)
    run = log["runs"][0]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    # DJ001 has no doc here: it still gets a rule entry so that ruleIndex stays valid
    assert set(rules) == {"DJ001", "DJ201", "DJ301"}
    assert rules["DJ201"]["name"] == "sideways-read"
    assert rules["DJ201"]["fullDescription"]["text"] == "Why text."
    assert "bad()" in rules["DJ201"]["help"]["markdown"]
    first = run["results"][0]
    assert first["ruleId"] == "DJ201" and first["level"] == "error"
    assert first["message"]["text"] == "Clustering.make reads Probe (`lab`.`probe`)"
    assert first["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "pipeline/analysis.py",
        "uriBaseId": "%SRCROOT%",
    }
    assert first["locations"][0]["physicalLocation"]["region"] == {"startLine": 12, "startColumn": 9}
    assert run["results"][2]["level"] == "note"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == "file:///tmp/"
    assert first["partialFingerprints"]["djlintFingerprint/v1"] == fingerprint(DIAGNOSTICS[0], "x = 1")


def test_sarif_uri_is_percent_encoded_and_line_zero_is_clamped():
    log = json.loads(format_sarif([Diagnostic("my dir/a b.py", 0, 0, "DJ000", "syntax error")], {}))
    _check_sarif_structure(log)
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "my%20dir/a%20b.py"
    assert location["region"] == {"startLine": 1, "startColumn": 1}


def test_sarif_validates_against_a_minimal_2_1_0_schema():
    """The subset of the official sarif-schema-2.1.0 constraints that GitHub enforces, as JSON Schema."""
    validator_module = pytest.importorskip("jsonschema")
    text_object = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}}
    schema = {
        "type": "object",
        "required": ["version", "runs"],
        "properties": {
            "$schema": {"type": "string", "format": "uri"},
            "version": {"const": "2.1.0"},
            "runs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["tool"],
                    "properties": {
                        "tool": {
                            "type": "object",
                            "required": ["driver"],
                            "properties": {
                                "driver": {
                                    "type": "object",
                                    "required": ["name"],
                                    "properties": {
                                        "name": {"type": "string"},
                                        "informationUri": {"type": "string"},
                                        "rules": {
                                            "type": "array",
                                            "items": {
                                                "type": "object",
                                                "required": ["id"],
                                                "properties": {
                                                    "id": {"type": "string"},
                                                    "shortDescription": text_object,
                                                    "fullDescription": text_object,
                                                    "helpUri": {"type": "string"},
                                                },
                                            },
                                        },
                                    },
                                }
                            },
                        },
                        "columnKind": {"enum": ["utf16CodeUnits", "unicodeCodePoints"]},
                        "results": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["message", "ruleId", "locations"],
                                "properties": {
                                    "ruleId": {"type": "string"},
                                    "ruleIndex": {"type": "integer", "minimum": 0},
                                    "level": {"enum": ["none", "note", "warning", "error"]},
                                    "message": text_object,
                                    "locations": {
                                        "type": "array",
                                        "minItems": 1,
                                        "items": {
                                            "type": "object",
                                            "required": ["physicalLocation"],
                                            "properties": {
                                                "physicalLocation": {
                                                    "type": "object",
                                                    "required": ["artifactLocation", "region"],
                                                    "properties": {
                                                        "artifactLocation": {
                                                            "type": "object",
                                                            "required": ["uri"],
                                                            "properties": {"uri": {"type": "string"}},
                                                        },
                                                        "region": {
                                                            "type": "object",
                                                            "required": ["startLine"],
                                                            "properties": {
                                                                "startLine": {"type": "integer", "minimum": 1},
                                                                "startColumn": {"type": "integer", "minimum": 1},
                                                            },
                                                        },
                                                    },
                                                }
                                            },
                                        },
                                    },
                                    "partialFingerprints": {
                                        "type": "object",
                                        "additionalProperties": {"type": "string"},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    }
    good = json.loads(format_sarif(DIAGNOSTICS, DOCS, line_text=lambda d: "", source_root=Path("/tmp")))
    validator_module.validate(good, schema)
    broken = json.loads(json.dumps(good))
    broken["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    with pytest.raises(validator_module.ValidationError):
        validator_module.validate(broken, schema)


def test_statistics_count_per_code_most_frequent_first():
    stats = format_statistics([*DIAGNOSTICS, DIAGNOSTICS[0]], DOCS).splitlines()
    assert stats[0].split()[:2] == ["2", "DJ201"]
    assert "sideways-read" in stats[0]
    assert [line.split()[1] for line in stats[1:3]] == ["DJ001", "DJ301"]
    assert stats[-1].split() == ["4", "total"]


def test_explain_prints_code_summary_why_bad_and_good():
    text = format_explain(DOCS["DJ201"])
    assert text.startswith("DJ201 (sideways-read): make() reads a table outside its upstream\n")
    assert text.index("Why\n---\nWhy text.") < text.index("Bad\n---\nbad()") < text.index("Good\n----\ngood()")


def test_explain_prints_every_documented_part_of_each_rule_module():
    """What the rule module documents, --explain prints: its known limits and how it is found too."""
    from djlint.rules import REGISTRY

    for code, module in REGISTRY.items():
        text = format_explain(rule_docs()[code])
        assert "\nHow it is found\n" in text, code
        assert module.HOW_FOUND.strip().splitlines()[0] in text, code
        if getattr(module, "KNOWN_LIMITS", None):
            assert "\nKnown limits\n" in text, code
