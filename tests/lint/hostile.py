"""Shared by the hostile-input tests: a small pipeline with two findings and a bounded ``djlint`` run."""

from __future__ import annotations

import re
import resource
import subprocess
import sys
from pathlib import Path

from djlint.rules import REGISTRY

VENV_BIN = Path(sys.executable).parent
FINDINGS = ["pipeline/behavior.py:33:9: DJ301", "pipeline/ephys.py:33:21: DJ201"]
FINDING = re.compile(r"^\S+:\d+:\d+: [A-Z]+[0-9]+")
MEMORY_LIMIT = 2 * 1024**3  # a run that reads /dev/zero fails fast instead of exhausting the machine


def make_pipeline(root: Path) -> Path:
    """One sideways read (DJ201, ephys.py) and one cross-table write (DJ301, behavior.py)."""
    (root / "pipeline").mkdir(parents=True)
    (root / "pipeline" / "__init__.py").write_text("")
    (root / "pipeline" / "ephys.py").write_text(REGISTRY["DJ201"].BAD)
    (root / "pipeline" / "behavior.py").write_text(REGISTRY["DJ301"].BAD)
    (root / "pyproject.toml").write_text('[project]\nname = "pipeline"\n')
    return root


def _bounded() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run(tool: str, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The console script, bounded in memory and time (a hang fails the test, not the suite)."""
    return subprocess.run(
        [str(VENV_BIN / tool), *args], cwd=cwd, capture_output=True, text=True, timeout=120,
        preexec_fn=_bounded, env=env,
    )


def findings(result: subprocess.CompletedProcess[str]) -> list[str]:
    """``path:line:column: CODE`` of each finding (not of the lines that may follow one, e.g. a fix)."""
    return [match.group(0) for line in result.stdout.splitlines() if (match := FINDING.match(line))]
