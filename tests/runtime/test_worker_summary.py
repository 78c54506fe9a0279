"""The worker's exit summary says what became of the job an interrupt stopped, as configured."""

from __future__ import annotations

import pytest

from djruntime import engine
from djruntime.cli import Tally, summary


@pytest.fixture
def interrupt_setting():
    saved = engine.settings.on_interrupt
    yield
    engine.configure(on_interrupt=saved)


@pytest.mark.parametrize(("setting", "fate"), [("pending", "returned to the queue"),
                                                ("error", "recorded as an error")])
def test_summary_names_the_interrupted_job_s_fate(interrupt_setting, setting: str, fate: str) -> None:
    engine.configure(on_interrupt=setting)
    text = summary(Tally(made=3), 61.0, stopped="SIGTERM")
    assert text.startswith("djruntime worker: made 3, errors 0, skipped 0, elapsed 0:01:01")
    assert f"stopped by SIGTERM; the running job was {fate}" in text
    assert "stopped" not in summary(Tally(made=3), 61.0)
