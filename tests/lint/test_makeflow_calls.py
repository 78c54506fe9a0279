"""Reads and writes reached through code make() calls: methods of the same class, mixins (also an
inherited make()), functions of other modules several calls deep, Part helpers, tables and modules
passed as arguments, methods of other table classes that write their own table."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from makeflow_harness import LAB, check


def test_helpers_across_modules_several_calls_deep(tmp_path: Path) -> None:
    helpers = '''
    from lab import Weather, Rig


    def outer(key):
        return middle(key)


    def middle(key):
        return inner(key) + 1


    def inner(key):
        return len(Weather & key)  # expect: DJ201


    def recursive(n):
        if n:
            return recursive(n - 1)
        return Rig.fetch()  # expect: DJ201


    def not_called():
        return Rig.fetch()
    '''
    analysis = '''
    import datajoint as dj
    from lab import Session
    import helpers
    from helpers import outer

    schema = dj.schema("analysis")


    @schema
    class Summary(dj.Computed):
        definition = """
        -> Session
        ---
        total : float
        """

        def make(self, key):
            total = outer(key) + len(helpers.recursive(3))
            self.insert1(dict(key, total=float(total)))
    '''
    diagnostics = check(tmp_path, {"lab.py": LAB, "helpers.py": helpers, "analysis.py": analysis})
    assert all(d.path == "helpers.py" for d in diagnostics)
    assert "called from Summary.make()" in diagnostics[0].message


def test_same_class_methods_mixins_and_inherited_make(tmp_path: Path) -> None:
    mixins = '''
    from lab import Weather, Rig


    class Notifier:
        def notify(self, key):
            return Rig.fetch()  # expect: DJ201


    class CountMixin:
        def make(self, key):
            n = len(Weather & key)  # expect: DJ201, DJ201
            self.notify(key)
            self.insert1(dict(key, total=float(n)))
    '''
    analysis = '''
    import datajoint as dj
    from lab import Session, Subject, Weather
    from mixins import CountMixin, Notifier

    schema = dj.schema("analysis")


    @schema
    class BySession(CountMixin, Notifier, dj.Computed):
        definition = """
        -> Session
        ---
        total : float
        """


    @schema
    class BySubject(CountMixin, Notifier, dj.Computed):
        definition = """
        -> Subject
        ---
        total : float
        """


    @schema
    class WithWeather(CountMixin, Notifier, dj.Computed):
        definition = """
        -> Session
        -> Weather
        ---
        total : float
        """


    @schema
    class Own(dj.Computed):
        definition = """
        -> Session
        ---
        total : float
        """

        def make(self, key):
            self.insert1(dict(key, total=self.helper(key)))

        def helper(self, key):
            return float(len(Weather()))  # expect: DJ201
    '''
    diagnostics = check(tmp_path, {"lab.py": LAB, "mixins.py": mixins, "analysis.py": analysis})
    at_mixin = sorted(d.message for d in diagnostics if d.path == "mixins.py" and d.line == 11)
    assert len(at_mixin) == 2
    assert "BySession.make()" in at_mixin[0] and "BySubject.make()" in at_mixin[1]


def test_part_helpers_and_tables_or_modules_passed_as_arguments(tmp_path: Path) -> None:
    plots = '''
    def plot_waveforms(module, key):
        return module.Weather.fetch()  # expect: DJ201


    def count(table, key):
        return len(table & key)
    '''
    analysis = '''
    import datajoint as dj
    import lab
    from lab import Session, Rig
    from plots import plot_waveforms, count

    schema = dj.schema("analysis")


    @schema
    class Units(dj.Computed):
        definition = """
        -> Session
        ---
        total : float
        """

        class Unit(dj.Part):
            definition = """
            -> master
            unit : int
            """

            def make(self, key):
                rigs = Rig.fetch()  # expect: DJ201
                self.insert1(dict(key, unit=0))

        def make(self, key):
            units = (type(self).Unit & key).fetch() + (self.__class__.Unit & key).fetch()
            plot_waveforms(lab, key)
            n = count(lab.Subject, key) + count(Rig, key)  # expect: DJ201
            self.insert1(dict(key, total=float(n)))
            self.Unit().make(key)
    '''
    check(tmp_path, {"lab.py": LAB, "plots.py": plots, "analysis.py": analysis})


def test_writes_through_other_tables_methods(tmp_path: Path) -> None:
    lab = LAB + '''

@schema
class Note(dj.Manual):
    definition = """
    note_id : int
    ---
    text : varchar(64)
    """

    def add(self, note_id, text):
        self.insert1(dict(note_id=note_id, text=text))

    @classmethod
    def fill(cls):
        cls.insert1(dict(note_id=0, text="x"), skip_duplicates=True)

    def describe_rows(self):
        return len(self)
'''
    analysis = '''
    import datajoint as dj
    from lab import Session, Note

    schema = dj.schema("analysis")


    @schema
    class Summary(dj.Computed):
        definition = """
        -> Session
        ---
        total : float
        """

        def make(self, key):
            Note().add(1, "a")  # expect: DJ301
            Note.fill()  # expect: DJ301
            n = Note().describe_rows()  # expect: DJ201
            self.insert1(dict(key, total=0.0))
    '''
    diagnostics = check(tmp_path, {"lab.py": lab, "analysis.py": analysis})
    assert any("writes Note (lab) (insert1)" in d.message for d in diagnostics)


def test_class_attributes_properties_and_star_args(tmp_path: Path) -> None:
    helpers = '''
    def count_each(*tables, key):
        return [len(table & key) for table in tables]
    '''
    analysis = '''
    import datajoint as dj
    from lab import Session, Weather, Rig, Subject
    from helpers import count_each

    schema = dj.schema("analysis")


    @schema
    class Summary(dj.Computed):
        definition = """
        -> Session
        ---
        total : float
        """

        _source = Weather  # expect: DJ201
        _label = "x"

        @property
        def _rigs(self):
            return Rig & "rig = 'A'"  # expect: DJ201

        @property
        def _subjects(self):
            return Subject.proj()

        def make(self, key):
            weather = (self._source & key).fetch()
            rigs = self._rigs.fetch()
            subjects = (self._subjects & key).fetch()
            counts = count_each(Session, Weather, key=key)  # expect: DJ201
            self.insert1(dict(key, total=float(sum(counts))))
    '''
    check(tmp_path, {"lab.py": LAB, "helpers.py": helpers, "analysis.py": analysis})


def test_an_analysis_error_in_one_make_does_not_stop_the_others(tmp_path: Path, monkeypatch) -> None:
    from djlint.makeflow import interpreter

    original = interpreter.MakeRun.run_entry

    def failing(self, module, function, class_id, qualname):
        if self.owner.endswith("Broken"):
            raise ValueError("boom")
        return original(self, module, function, class_id, qualname)

    monkeypatch.setattr(interpreter.MakeRun, "run_entry", failing)
    analysis = '''
    import datajoint as dj
    from lab import Session, Weather

    schema = dj.schema("analysis")


    @schema
    class Broken(dj.Computed):
        definition = """
        -> Session
        """

        def make(self, key):
            Weather.fetch()


    @schema
    class Fine(dj.Computed):
        definition = """
        -> Session
        """

        def make(self, key):
            Weather.fetch()  # expect: DJ201
    '''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})


def test_class_body_reads_run_at_import_and_are_not_make_reads(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    from lab import Session, Weather, Rig

    schema = dj.schema("analysis")
    N_RIGS = len(Rig())


    @schema
    class Summary(dj.Computed):
        definition = """
        -> Session
        ---
        total : float
        """

        _n_days = len(Weather())
        _table = Weather  # expect: DJ201

        def make(self, key):
            total = N_RIGS + self._n_days + len(self._table & key)
            self.insert1(dict(key, total=float(total)))
    '''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})


# every spelling of the linking module the analysis knows (issue 17: the model and the make() interpreter
# once disagreed on ``sys.modules[__name__]``); the last two activate from another module of the workflow
LINKING_SPELLINGS = {
    "__name__": ("element.activate(\"ephys\", linking_module=__name__)", ""),
    "sys.modules[__name__]": ("element.activate(\"ephys\", linking_module=sys.modules[__name__])", ""),
    "literal name": ("element.activate(\"ephys\", linking_module=\"workflow\")", ""),
    "sys.modules[literal name]": ("", "element.activate(\"ephys\", linking_module=sys.modules[\"workflow\"])"),
    "imported module": ("", "element.activate(\"ephys\", linking_module=workflow)"),
    "imported activate": ("from element import activate\nactivate(\"ephys\", linking_module=__name__)", ""),
}


@pytest.mark.parametrize("spelling", sorted(LINKING_SPELLINGS))
def test_elements_linking_module_helpers(tmp_path: Path, spelling: str) -> None:
    in_workflow, in_pipeline = LINKING_SPELLINGS[spelling]
    element = '''
    import datajoint as dj

    schema = dj.schema()
    _linking_module = None


    def activate(name, *, linking_module=None):
        global _linking_module
        _linking_module = linking_module
        schema.activate(name, add_objects=_linking_module.__dict__)


    def get_session_directory(key):
        return _linking_module.get_session_directory(key)


    @schema
    class Recording(dj.Imported):
        definition = """
        -> Session
        """

        def make(self, key):
            path = get_session_directory(key)
            self.insert1(key)
    '''
    workflow = '''
    import sys
    import element
    from lab import Session, Weather, Subject


    def get_session_directory(key):
        return (Weather & key).fetch1("day")  # expect: DJ201


    '''
    pipeline = '''
    import sys
    import element
    import workflow
    '''
    pyproject = '''
    [tool.djlint]
    linking = { Session = "lab.Session" }
    '''
    files = {"lab.py": LAB, "element.py": element, "workflow.py": textwrap.dedent(workflow) + in_workflow + "\n",
             "pipeline.py": textwrap.dedent(pipeline) + in_pipeline + "\n"}
    check(tmp_path, files, pyproject)


def test_instance_attributes_and_module_level_tables(tmp_path: Path) -> None:
    loaders = '''
    from lab import Weather, Rig

    SOURCES = {"weather": Weather, "rig": Rig}  # expect: DJ201
    COUNT = len(Rig())


    class Loader:
        def __init__(self, table):
            self.table = table
            self.rigs = Rig  # expect: DJ201

        def load(self, key):
            return (self.table & key).fetch(), self.rigs.fetch()
    '''
    analysis = '''
    import datajoint as dj
    from lab import Session, Subject
    from loaders import Loader, SOURCES, COUNT

    schema = dj.schema("analysis")


    @schema
    class Summary(dj.Computed):
        definition = """
        -> Session
        ---
        total : float
        """

        def make(self, key):
            subjects = Loader(Subject).load(key)
            weather = (SOURCES["weather"] & key).fetch()
            self.source = Session
            own = self.source.fetch()
            self.insert1(dict(key, total=float(COUNT)))
    '''
    check(tmp_path, {"lab.py": LAB, "loaders.py": loaders, "analysis.py": analysis})
