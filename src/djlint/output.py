"""Report formats of the ``djlint`` command line: text, JSON, SARIF 2.1.0 and GitHub annotations.

Every formatter takes diagnostics whose ``path`` is already relative to the current directory with
``/`` separators (what :func:`djlint.analysis.analyze` returns) and returns the whole report as a string.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from djlint import __version__
from djlint.diagnostics import Diagnostic, Fix

PROJECT_URL = "https://github.com/datajoint-provenance/datajoint-provenance"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

# Informational codes say what djlint could not see; they never make the exit status 1.
INFORMATIONAL = frozenset({"DJ001"})


def is_informational(code: str) -> bool:
    return code in INFORMATIONAL


@dataclass(frozen=True)
class RuleDoc:
    """What the front ends show about one code (read from a rule module of ``djlint.rules``)."""

    code: str
    name: str
    summary: str
    why: str = ""
    bad: str = ""
    good: str = ""
    module: str = ""  # file name of the rule module, e.g. dj201_sideways_read.py
    fix: str = ""
    known_limits: str = ""
    how_found: str = ""

    @classmethod
    def from_module(cls, code: str, module: object) -> RuleDoc:
        def text(attribute: str) -> str:
            value = getattr(module, attribute, "")
            if isinstance(value, (list, tuple)):  # KNOWN_LIMITS may be a list of sentences
                return "\n".join(f"- {item}" for item in value if isinstance(item, str))
            return value if isinstance(value, str) else ""

        return cls(
            code=code,
            name=text("NAME") or code,
            summary=text("SUMMARY").strip(),
            why=text("WHY").strip("\n"),
            bad=text("BAD").strip("\n"),
            good=text("GOOD").strip("\n"),
            fix=text("FIX").strip("\n"),
            known_limits=text("KNOWN_LIMITS").strip("\n"),
            how_found=text("HOW_FOUND").strip("\n"),
            module=str(getattr(module, "__name__", "")).rpartition(".")[2] + ".py"
            if getattr(module, "__name__", "") else "",
        )


def rule_docs() -> dict[str, RuleDoc]:
    """Documentation of every registered code; empty when the registry cannot be loaded."""
    try:
        from djlint.rules import REGISTRY
    except ImportError:
        return {}
    return {code: RuleDoc.from_module(code, module) for code, module in sorted(REGISTRY.items())}


def fingerprint(diagnostic: Diagnostic, line_text: str) -> str:
    """A location-independent identity: survives the finding moving to another line."""
    material = "\0".join((diagnostic.path, diagnostic.code, diagnostic.message, line_text))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def format_text(diagnostics: Sequence[Diagnostic]) -> str:
    """One line per finding; the findings of one place and code (a helper shared by several make()
    bodies) under one location, the later ones indented."""
    lines = []
    place = None
    for d in diagnostics:
        here = (d.path, d.line, d.column, d.code)
        if here == place:
            lines.append(f"    also: {d.message}\n")
        else:
            lines.append(f"{d.path}:{d.line}:{d.column}: {d.code} {d.message}\n")
        if d.fix is not None:
            lines.append(f"    fix: {d.fix.description}\n")
        place = here
    return "".join(lines)


def format_json(diagnostics: Sequence[Diagnostic]) -> str:
    """An array of ``{path, line, column, code, message}``, plus ``table``, ``target``, ``via`` and
    ``related`` where the finding has them."""
    return json.dumps([d.as_dict() for d in diagnostics], indent=2) + "\n"


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


def format_github(diagnostics: Sequence[Diagnostic]) -> str:
    """GitHub Actions workflow commands: each becomes an annotation on the pull request."""
    lines = []
    for d in diagnostics:
        command = "notice" if is_informational(d.code) else "error"
        properties = ",".join(
            (
                f"file={_escape_property(d.path)}",
                f"line={max(d.line, 1)}",
                f"col={max(d.column, 1)}",
                f"title={_escape_property(d.code)}",
            )
        )
        lines.append(f"::{command} {properties}::{_escape_data(f'{d.code} {d.message}')}\n")
    return "".join(lines)


def _sarif_level(code: str) -> str:
    return "note" if is_informational(code) else "error"


def _sarif_rule(doc: RuleDoc) -> dict[str, object]:
    from djlint.sitegen import rule_url

    help_text = doc.why or doc.summary
    markdown = [f"**{doc.code} {doc.name}**: {doc.summary}", "", doc.why]
    if doc.bad:
        markdown += ["", "Bad:", "```python", doc.bad, "```"]
    if doc.good:
        markdown += ["", "Good:", "```python", doc.good, "```"]
    return {
        "id": doc.code,
        "name": doc.name,
        "shortDescription": {"text": doc.summary or doc.code},
        "fullDescription": {"text": help_text or doc.code},
        "helpUri": rule_url(doc.code),  # the rule's page on the reference site (djlint.sitegen)
        "help": {"text": help_text or doc.code, "markdown": "\n".join(markdown)},
        "defaultConfiguration": {"level": _sarif_level(doc.code)},
        "properties": {"tags": ["datajoint", "provenance"]},
    }


def format_sarif(
    diagnostics: Sequence[Diagnostic],
    docs: Mapping[str, RuleDoc] | None = None,
    *,
    line_text: Callable[[Diagnostic], str] | None = None,
    source_root: Path | None = None,
) -> str:
    """SARIF 2.1.0 as GitHub code scanning accepts it (upload with github/codeql-action/upload-sarif).

    ``line_text`` gives the stripped source line of a finding, used for a fingerprint that survives
    the line moving; ``source_root`` (the current directory) becomes ``%SRCROOT%``."""
    docs = dict(docs if docs is not None else rule_docs())
    for d in diagnostics:  # a code without a rule module still needs a rule entry
        docs.setdefault(d.code, RuleDoc(code=d.code, name=d.code, summary=d.code))
    ordered = sorted(docs)
    index = {code: position for position, code in enumerate(ordered)}
    results = []
    for d in diagnostics:
        artifact: dict[str, object] = {"uri": quote(d.path, safe="/")}
        if source_root is not None:
            artifact["uriBaseId"] = "%SRCROOT%"
        result: dict[str, object] = {
            "ruleId": d.code,
            "ruleIndex": index[d.code],
            "level": _sarif_level(d.code),
            "message": {"text": d.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": artifact,
                        "region": {"startLine": max(d.line, 1), "startColumn": max(d.column, 1)},
                    }
                }
            ],
        }
        if d.related:
            result["relatedLocations"] = [
                {
                    "id": number,
                    "physicalLocation": {
                        "artifactLocation": {**artifact, "uri": quote(r.path, safe="/")},
                        "region": {"startLine": max(r.line, 1), "startColumn": max(r.column, 1)},
                    },
                    "message": {"text": r.message},
                }
                for number, r in enumerate(d.related, start=1)
            ]
        properties: dict[str, object] = {
            key: value for key, value in (("table", d.table), ("target", d.target)) if value
        }
        if d.via:
            properties["via"] = list(d.via)
        if d.fix is not None:
            properties["fix"] = d.fix.description
            if d.fix.edits:
                result["fixes"] = [_sarif_fix(d.fix, source_root)]
        if properties:
            result["properties"] = properties
        if line_text is not None:
            result["partialFingerprints"] = {"djlintFingerprint/v1": fingerprint(d, line_text(d))}
        results.append(result)
    run: dict[str, object] = {
        "tool": {
            "driver": {
                "name": "djlint",
                "informationUri": PROJECT_URL,
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_sarif_rule(docs[code]) for code in ordered],
            }
        },
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    if source_root is not None:
        run["originalUriBaseIds"] = {"%SRCROOT%": {"uri": source_root.resolve().as_uri() + "/"}}
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2) + "\n"


def _sarif_fix(fix: Fix, source_root: Path | None) -> dict[str, object]:
    changes: dict[str, list[dict[str, object]]] = {}
    for edit in fix.edits:
        changes.setdefault(edit.path, []).append({
            "deletedRegion": {"startLine": edit.line, "startColumn": edit.column,
                              "endLine": edit.end_line, "endColumn": edit.end_column},
            "insertedContent": {"text": edit.replacement},
        })
    artifact_changes = []
    for path, replacements in changes.items():
        location: dict[str, object] = {"uri": quote(path, safe="/")}
        if source_root is not None:
            location["uriBaseId"] = "%SRCROOT%"
        artifact_changes.append({"artifactLocation": location, "replacements": replacements})
    return {"description": {"text": fix.description}, "artifactChanges": artifact_changes}


def format_statistics(diagnostics: Iterable[Diagnostic], docs: Mapping[str, RuleDoc] | None = None) -> str:
    """Counts per code, most frequent first, then a total."""
    docs = docs if docs is not None else rule_docs()
    counts = Counter(d.code for d in diagnostics)
    lines = []
    for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        doc = docs.get(code)
        label = f"{doc.name}: {doc.summary}" if doc and doc.summary else (doc.name if doc else "")
        lines.append(f"{count:<6} {code}  {label}".rstrip() + "\n")
    lines.append(f"{sum(counts.values()):<6} total\n")
    return "".join(lines)


def format_explain(doc: RuleDoc) -> str:
    from djlint.sitegen import rule_url

    parts = [f"{doc.code} ({doc.name}): {doc.summary}\n"]
    for title, body in (("Why", doc.why), ("Bad", doc.bad), ("Good", doc.good), ("Fix", doc.fix),
                        ("Known limits", doc.known_limits), ("How it is found", doc.how_found)):
        if body:
            parts.append(f"\n{title}\n{'-' * len(title)}\n{body.rstrip()}\n")
    parts.append(f"\nMore: {rule_url(doc.code)}\n")
    return "".join(parts)


FORMATS = ("text", "json", "sarif", "github")
