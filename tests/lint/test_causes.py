"""``djlint.causes``: the files a finding depends on (what the pre-commit hook's --changed mode uses),
from the structured fields when the rules set them, and conservatively when they do not."""

from __future__ import annotations

import textwrap
from pathlib import Path

from djlint.analysis import analyze
from djlint.causes import cause_files, caused_by
from djlint.config import load_config
from djlint.diagnostics import Diagnostic, Related

FILES = {
    "lab/__init__.py": "",
    "lab/subject.py": '''
        import datajoint as dj
        schema = dj.Schema("s")

        @schema
        class Subject(dj.Manual):
            definition = """
            subject_id : int
            """
    ''',
    "lab/session.py": '''
        import datajoint as dj
        from .subject import Subject
        schema = dj.Schema("s")

        @schema
        class Session(dj.Manual):
            definition = """
            -> Subject
            session_idx : int
            """
    ''',
    "lab/notes.py": '''
        import datajoint as dj
        schema = dj.Schema("n")

        @schema
        class Note(dj.Manual):
            definition = """
            note_id : int
            """
    ''',
    "lab/helpers.py": '''
        def count(table):
            return len(table.fetch())
    ''',
    "lab/analysis.py": '''
        import datajoint as dj
        from .session import Session
        from .notes import Note
        from .helpers import count
        schema = dj.Schema("a")

        @schema
        class Analysis(dj.Computed):
            definition = """
            -> Session
            ---
            n : int
            """

            def make(self, key):
                self.insert1(dict(key, n=count(Note)))
    ''',
    "lab/unrelated.py": "X = 1\n",
}


def _model(tmp_path: Path):
    for relative, text in FILES.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(textwrap.dedent(text))
    (tmp_path / "pyproject.toml").write_text("[tool.djlint]\n")
    return analyze([tmp_path], load_config(tmp_path), cwd=tmp_path, use_cache=False).model


def test_structured_fields_name_the_definitions_and_the_call_chain(tmp_path):
    model = _model(tmp_path)
    finding = Diagnostic("lab/helpers.py", 3, 16, "DJ201", "reads Note", table="lab.analysis.Analysis",
                         target="lab.notes.Note", via=("lab.helpers.count",),
                         related=(Related("lab/analysis.py", 17, 30, "called from make()"),))
    assert cause_files(finding, model) == {
        "lab/helpers.py", "lab/analysis.py",  # the line, the call chain, the related place
        "lab/session.py", "lab/subject.py",  # the make() table's ancestors' definitions
        "lab/notes.py",  # the table read
        "pyproject.toml",  # the policy
    }
    assert caused_by(finding, {"lab/subject.py"}, model)
    assert not caused_by(finding, {"lab/unrelated.py"}, model)


def test_without_structured_fields_the_finding_file_s_tables_and_the_named_tables_stand_in(tmp_path):
    model = _model(tmp_path)
    message = f"sideways read: Analysis.make() reads {model.table_name('lab.notes.Note')}"
    finding = Diagnostic("lab/analysis.py", 17, 30, "DJ201", message)
    assert {"lab/session.py", "lab/subject.py", "lab/notes.py"} <= cause_files(finding, model)
    assert "lab/unrelated.py" not in cause_files(finding, model)


def test_findings_that_do_not_depend_on_the_graph_depend_on_their_own_file(tmp_path):
    model = _model(tmp_path)
    for code in ("DJ001", "DJ401", "DJ501", "DJ101"):
        finding = Diagnostic("lab/analysis.py", 17, 9, code, "Note", table="lab.analysis.Analysis")
        assert cause_files(finding, model) == {"lab/analysis.py", "pyproject.toml"}
