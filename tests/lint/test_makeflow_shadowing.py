"""Code the tracker used to skip: a user method named like a datajoint attribute (``log``, ``describe``,
``progress``...), parameter defaults (also ``functools.partial``), and a table attribute whose ``.Name``
is on a later line than its module."""

from __future__ import annotations

from pathlib import Path

from makeflow_harness import check, line_of

ACQ = '''
import datajoint as dj

schema = dj.schema("acquisition")


@schema
class Subject(dj.Manual):
    definition = """
    subject : varchar(16)
    """


@schema
class Session(dj.Manual):
    definition = """
    -> Subject
    session_idx : int
    """


@schema
class Weighing(dj.Manual):
    definition = """
    -> Subject
    weigh_date : date
    ---
    weight : float
    """


@schema
class EventLog(dj.Manual):
    definition = """
    event_id : int auto_increment
    ---
    msg : varchar(255)
    """

    @classmethod
    def log(cls, msg):
        cls.insert1({"msg": msg})


@schema
class Rig(dj.Lookup):
    definition = """
    rig : varchar(8)
    ---
    room : varchar(16)
    """
    contents = [("A", "101")]

    class Camera(dj.Part):
        definition = """
        -> master
        camera : int
        """

    def describe(self, context=None):
        return super().describe(context)

    @classmethod
    def progress(cls, *restrictions, display=False):
        return len(cls & restrictions), 0
'''


def test_user_methods_named_like_datajoint_attributes_are_followed(tmp_path: Path) -> None:
    base = '''
    from acquisition import Weighing


    class LoggedComputed:
        """Lab base class: make() logs through self.log, which tables may override."""

        def log(self, key):
            return None

        def make(self, key):
            self.log(key)
            self.insert1(key)


    class TargetMixin:
        @property
        def target(self):
            return Weighing  # expect: DJ201
    '''
    analysis = '''
    import datajoint as dj
    from acquisition import Session, Subject, Weighing, EventLog, Rig
    from base import LoggedComputed, TargetMixin

    schema = dj.schema("analysis")


    @schema
    class Proc(dj.Computed):
        definition = """
        -> Session
        """

        def log(self, key):
            return (Weighing & key).fetch("weight")  # expect: DJ201

        def make(self, key):
            EventLog.log("started")  # expect: DJ301
            self.log(key)
            done, total = Rig.progress(key)  # expect: DJ201
            self.insert1(key)


    @schema
    class Verbose(LoggedComputed, dj.Computed):
        definition = """
        -> Session
        """

        def log(self, key):
            print(len(Weighing & key))  # expect: DJ201


    @schema
    class Quiet(LoggedComputed, dj.Computed):
        definition = """
        -> Session
        """


    @schema
    class Targeted(TargetMixin, dj.Computed):
        definition = """
        -> Session
        """

        def make(self, key):
            n = len(self.target & key)
            self.insert1(key)


    @schema
    class Metadata(dj.Computed):
        definition = """
        -> Session
        """

        def make(self, key):
            # datajoint's own attributes where no repo class overrides them: no read, no write
            text = Weighing.describe() + Subject.describe()
            text += Rig.describe()
            names = [p.__name__ for p in Weighing.parts(as_objects=True)]
            remaining, total = self.progress(display=False)
            jobs = self.jobs & key
            tier, schema_name = Weighing.tier, Weighing.schema
            ext = Weighing.external
            Weighing.log
            self.populate(reserve_jobs=True)
            self.insert1(key)
    '''
    diagnostics = check(tmp_path, {"acquisition.py": ACQ, "base.py": base, "analysis.py": analysis})
    analysis_path = tmp_path / "analysis.py"
    write = next(d for d in diagnostics if d.code == "DJ301")
    assert "EventLog" in write.message and "Proc.make()" in write.message
    assert write.line == line_of(analysis_path, 'EventLog.log("started")')
    verbose = [d for d in diagnostics if d.line == line_of(analysis_path, "print(len(Weighing")]
    # reported for the table that overrides log(), not for the one inheriting the base's silent log()
    assert len(verbose) == 1 and "Verbose.make()" in verbose[0].message


def test_key_source_stays_populate_metadata(tmp_path: Path) -> None:
    """key_source is datajoint's override point read by populate(), not a helper of make()."""
    analysis = '''
    import datajoint as dj
    from acquisition import Session, Weighing

    schema = dj.schema("analysis")


    @schema
    class Weekly(dj.Computed):
        definition = """
        -> Session
        """

        @property
        def key_source(self):
            return Session & Weighing

        def make(self, key):
            assert key in self.key_source.proj()
            self.insert1(key)
    '''
    check(tmp_path, {"acquisition.py": ACQ, "analysis.py": analysis})


def test_parameter_defaults_are_bound_when_not_passed(tmp_path: Path) -> None:
    helpers = '''
    from functools import partial

    import acquisition
    from acquisition import Session, Subject, Weighing, Rig


    def latest(key, table=Weighing):  # expect: DJ201
        return (table & key).fetch(limit=1)


    def ancestors_only(key, table=Session, parent=Subject):
        return (table & key).fetch("KEY"), (parent & key).fetch1()


    def count(key, *, source=Rig.Camera):  # expect: DJ201
        return len(source & key)


    def unguarded(key, table=None):
        table = table or Session
        return (table & key).fetch()


    def per_module(key, module=acquisition):
        return (module.Rig & key).fetch()  # expect: DJ201


    def load(key, table):
        return (table & key).fetch()


    weights = partial(load, table=Weighing)  # expect: DJ201
    '''
    analysis = '''
    import datajoint as dj
    import functools
    from acquisition import Session, Rig
    from helpers import latest, ancestors_only, count, unguarded, per_module, weights, load

    schema = dj.schema("analysis")


    @schema
    class Stats(dj.Computed):
        definition = """
        -> Session
        ---
        n : int
        """

        def _rows(self, key, source=Session):
            return (source & key).fetch()

        def _write(self, key, n=0, session_idx=None):
            row = dict(key, n=n)
            if session_idx is not None:
                row["session_idx"] = session_idx
            self.insert1(row)

        def make(self, key):
            latest(key)
            ancestors_only(key)
            count(key)
            unguarded(key)
            per_module(key)
            weights(key)
            sessions = functools.partial(load, table=Session)
            sessions(key)
            rigs = functools.partial(load, table=Rig)  # expect: DJ201
            rigs(key)
            functools.partial(load, key)(Session)
            self._rows(key)
            self._write(key)


    @schema
    class Overridden(dj.Computed):
        definition = """
        -> Session
        """

        def make(self, key):
            # the argument passed replaces the sideways default: nothing read from Weighing here
            latest(key, table=Session)
            latest(key, Session)
            self.insert1(key)
    '''
    diagnostics = check(tmp_path, {"acquisition.py": ACQ, "helpers.py": helpers, "analysis.py": analysis})
    helpers_path = tmp_path / "helpers.py"
    at_default = next(d for d in diagnostics if d.line == line_of(helpers_path, "def latest("))
    assert at_default.column == line_of_column(helpers_path, "def latest(", "Weighing")
    assert "Stats.make()" in at_default.message
    assert all("Overridden" not in d.message for d in diagnostics)


def test_nested_default_in_make_is_reported_at_the_def(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    from acquisition import Session, Weighing

    schema = dj.schema("analysis")


    @schema
    class Closure(dj.Computed):
        definition = """
        -> Session
        """

        def make(self, key):
            def weights(k, table=Weighing):  # expect: DJ201
                return (table & k).fetch()

            weights(key)
            self.insert1(key)
    '''
    check(tmp_path, {"acquisition.py": ACQ, "analysis.py": analysis})


def test_table_attribute_split_across_lines_is_reported_where_the_table_is_named(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    import acquisition
    import acquisition as acq
    from acquisition import Session, Rig

    schema = dj.schema("analysis")


    @schema
    class Drift(dj.Computed):
        definition = """
        -> Session
        """

        def make(self, key):
            rows = (acquisition
                    .Weighing  # expect: DJ201
                    & key).fetch()
            cams = (Rig
                    .Camera  # expect: DJ201
                    & key).fetch()
            same = acq.Weighing.fetch()  # expect: DJ201
            (acquisition
             .EventLog).insert1({"msg": "drift"})  # expect: DJ301
            self.insert1(key)
    '''
    diagnostics = check(tmp_path, {"acquisition.py": ACQ, "analysis.py": analysis})
    path = tmp_path / "analysis.py"
    by_line = {d.line: d for d in diagnostics}
    # a multi-line attribute: the line and column of the attribute's own name
    split = by_line[line_of(path, ".Weighing  #")]
    assert split.column == line_of_column(path, ".Weighing  #", "Weighing")
    part = by_line[line_of(path, ".Camera  #")]
    assert part.column == line_of_column(path, ".Camera  #", "Camera") and "Rig.Camera" in part.message
    # on one line: the column where the expression starts, as before
    single = by_line[line_of(path, "same = acq.Weighing")]
    assert single.column == line_of_column(path, "same = acq.Weighing", "acq.Weighing")
    write = by_line[line_of(path, ".EventLog)")]
    assert write.code == "DJ301" and write.column == line_of_column(path, ".EventLog)", "EventLog")


def line_of_column(path: Path, line_text: str, word: str) -> int:
    """The 1-based column of ``word`` on the first line containing ``line_text``."""
    line = path.read_text().splitlines()[line_of(path, line_text) - 1]
    return line.index(word) + 1
