"""The rule reference site: generated from the rule modules, built by mkdocs --strict, linked from SARIF
helpUri and --explain."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from djlint import sitegen
from djlint.rules import REGISTRY

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SECTIONS = ["## What it does", "## Why is this bad?", "## Example", "## Use instead"]


def run(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_committed_rule_pages_are_what_the_rules_generate() -> None:
    result = run(sys.executable, "-m", "djlint.sitegen", "--check")
    assert result.returncode == 0, result.stderr


def test_check_reports_a_stale_a_missing_and_a_left_over_page(tmp_path: Path) -> None:
    out = tmp_path / "rules"
    assert run(sys.executable, "-m", "djlint.sitegen", "--out", out).returncode == 0
    assert run(sys.executable, "-m", "djlint.sitegen", "--out", out, "--check").returncode == 0
    (out / "DJ201.md").write_text((out / "DJ201.md").read_text() + "edited\n")
    (out / "DJ301.md").unlink()
    (out / "DJ999.md").write_text(sitegen.GENERATED + "\n# a rule that is gone\n")
    (out / "notes.md").write_text("# written by hand, not generated\n")
    result = run(sys.executable, "-m", "djlint.sitegen", "--out", out, "--check")
    assert result.returncode == 1
    assert {line.split()[0].rpartition("/")[2] for line in result.stderr.splitlines()} == {
        "DJ201.md", "DJ301.md", "DJ999.md"
    }
    run(sys.executable, "-m", "djlint.sitegen", "--out", out)
    assert not (out / "DJ999.md").exists() and (out / "notes.md").exists()  # hand-written pages stay
    assert sitegen.stale(out) == []


def test_one_page_per_rule_with_its_parts_in_order() -> None:
    pages = sitegen.pages()
    assert set(pages) == {f"{code}.md" for code in REGISTRY} | {"index.md"}
    for code, rule in REGISTRY.items():
        page = pages[f"{code}.md"]
        assert page.startswith(sitegen.GENERATED + f"\n\n# {code} {rule.NAME}\n")
        positions = [page.index(section) for section in SECTIONS]
        assert positions == sorted(positions)
        why = page[page.index("## Why is this bad?"):page.index("## Example")]
        assert rule.WHY.strip().splitlines()[0].strip() in why
        assert rule.BAD.strip().splitlines()[-1].strip() in page[page.index("## Example"):page.index("## Use instead")]
        assert rule.GOOD.strip().splitlines()[-1].strip() in page[page.index("## Use instead"):]
        has_fix, has_limits = bool(getattr(rule, "FIX", "")), bool(getattr(rule, "KNOWN_LIMITS", ""))
        assert ("## Fix" in page) == has_fix and ("## Known limits" in page) == has_limits
        assert f"[{code}]({code}.md)" in pages["index.md"]


def _rule(**extra: object) -> ModuleType:
    rule = ModuleType("djlint.rules.dj999_example")
    rule.CODE, rule.NAME, rule.SUMMARY = "DJ999", "example-rule", "An example."
    rule.WHY, rule.BAD, rule.GOOD = "\nBecause.\n", "\nbad = 1\n", "\ngood = 1\n"
    for name, value in extra.items():
        setattr(rule, name, value)
    return rule


def test_fix_and_known_limits_are_rendered_when_a_rule_has_them() -> None:
    plain = sitegen.rule_page(_rule())
    assert "## Fix" not in plain and "## Known limits" not in plain
    page = sitegen.rule_page(_rule(
        FIX="\n    Declare the foreign key.\n", KNOWN_LIMITS=["Reads through eval() are not seen.", "Nor exec()."],
        PYPROJECT_BAD='[tool.djlint]\nignore = ["DJ1"]\n',
    ))
    assert page.index("## Use instead") < page.index("## Fix\n\nDeclare the foreign key.") < page.index(
        "## Known limits\n\n- Reads through eval() are not seen.\n- Nor exec()."
    )
    assert "```toml\n[tool.djlint]" in page
    # a list right after a sentence is still a Markdown list
    listed = sitegen.rule_page(_rule(WHY="\nTwo facts:\n1. one,\n   continued;\n2. two.\nAfter.\n"))
    assert "Two facts:\n\n1. one,\n   continued;\n2. two.\nAfter." in listed


def _mkdocs() -> Path:
    mkdocs = VENV_BIN / "mkdocs"
    if not mkdocs.exists():  # mkdocs is in the project's `test` extra: missing means a broken install
        pytest.fail("mkdocs is not installed: pip install -e '.[test]'")
    return mkdocs


def _site_copy(tmp_path: Path) -> Path:
    """docs/ and mkdocs.yml copied, with docs/rules/ regenerated from the rule modules."""
    shutil.copy(REPO / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(REPO / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("rules"))
    assert run(sys.executable, "-m", "djlint.sitegen", "--out", tmp_path / "docs" / "rules").returncode == 0
    return tmp_path


def test_site_builds_strict_with_a_page_per_rule(tmp_path: Path) -> None:
    root = _site_copy(tmp_path)
    result = run(_mkdocs(), "build", "--strict", "-f", root / "mkdocs.yml", "-d", root / "site", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "mkdocs.yml" and f"site_url: {sitegen.SITE_URL}/" in (REPO / "mkdocs.yml").read_text()
    for code, rule in REGISTRY.items():
        # the URL SARIF and --explain give is a page of the built site
        page = root / "site" / sitegen.rule_url(code).removeprefix(sitegen.SITE_URL + "/") / "index.html"
        html = page.read_text()
        assert f"{code} {rule.NAME}" in html and "Why is this bad?" in html and "Use instead" in html
    assert (root / "site" / "rules" / "index.html").exists()


def test_strict_build_fails_on_a_broken_link(tmp_path: Path) -> None:
    root = _site_copy(tmp_path)
    (root / "docs" / "index.md").write_text((root / "docs" / "index.md").read_text() + "\n[gone](rules/DJ998.md)\n")
    result = run(_mkdocs(), "build", "--strict", "-f", root / "mkdocs.yml", "-d", root / "site", cwd=root)
    assert result.returncode != 0 and "DJ998.md" in result.stderr


def test_sarif_help_uri_and_explain_link_to_the_rule_page(tmp_path: Path) -> None:
    sarif = run(VENV_BIN / "djlint", "--format", "sarif", "--no-cache", REPO / "fixtures" / "sideways_reads")
    rules = json.loads(sarif.stdout)["runs"][0]["tool"]["driver"]["rules"]
    assert rules and {r["helpUri"] for r in rules} == {sitegen.rule_url(r["id"]) for r in rules}
    for code in REGISTRY:
        explain = run(VENV_BIN / "djlint", "--explain", code)
        assert explain.stdout.rstrip().endswith(f"More: {sitegen.rule_url(code)}")
