"""Every rule's documented examples are tests: BAD triggers the rule's code, GOOD triggers nothing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from djlint.analysis import analyze
from djlint.cli import main as djlint_main
from djlint.rules import REGISTRY


def _run(tmp_path: Path, source: str, pyproject: str | None) -> list:
    (tmp_path / "pipeline.py").write_text(textwrap.dedent(source).lstrip("\n"))
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(pyproject or "[project]\nname = 'example'\n"))
    return analyze([tmp_path], cwd=tmp_path, use_cache=False).diagnostics


def test_registry_holds_the_model_rules() -> None:
    assert {"DJ000", "DJ001", "DJ003", "DJ101"} <= set(REGISTRY)
    for code, rule in REGISTRY.items():
        assert rule.CODE == code
        assert rule.SUMMARY.strip() and rule.WHY.strip() and rule.NAME.strip()


@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_bad_example_triggers_its_code(code: str, tmp_path: Path) -> None:
    rule = REGISTRY[code]
    found = _run(tmp_path, rule.BAD, getattr(rule, "PYPROJECT_BAD", None))
    assert code in {d.code for d in found}, found


@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_good_example_is_clean(code: str, tmp_path: Path) -> None:
    rule = REGISTRY[code]
    found = _run(tmp_path, rule.GOOD, getattr(rule, "PYPROJECT_GOOD", None))
    assert found == []


@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_explain_shows_why_examples_and_fix(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert djlint_main(["--explain", code]) == 0
    text = capsys.readouterr().out
    assert code in text and REGISTRY[code].WHY.strip()[:40] in text
    if getattr(REGISTRY[code], "FIX", ""):
        assert "\nFix\n---\n" in text and REGISTRY[code].FIX.strip()[:40] in text
    assert djlint_main(["--explain", code.lower()]) == 0
    assert capsys.readouterr().out == text


def test_explain_unknown_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert djlint_main(["--explain", "DJ999"]) == 2
    assert "unknown code 'DJ999'" in capsys.readouterr().err
