"""Unit tests of the make() analysis pieces: raw SQL classification, make-key
attributes, and the tracker's robustness on unusual syntax."""

from __future__ import annotations

from pathlib import Path

import pytest
from makeflow_harness import LAB, check

from djlint.sqltables import classify


@pytest.mark.parametrize(
    ("sql", "written", "read"),
    [
        ("INSERT INTO `lab`.`__clustering` (a) VALUES (%s)", [("lab", "__clustering")], []),
        ("insert into lab.x select * from lab.y", [("lab", "x")], [("lab", "y")]),
        ("UPDATE `lab`.`_scan` SET a=%(a)s WHERE b IN (SELECT b FROM lab.other)", [("lab", "_scan")],
         [("lab", "other")]),
        ("DELETE FROM `lab`.`#param` WHERE id = ?", [("lab", "#param")], []),
        ("REPLACE INTO `lab`.`session` VALUES (1)", [("lab", "session")], []),
        ("TRUNCATE TABLE lab.z", [("lab", "z")], []),
        ("DROP TABLE `lab`.`q`", [("lab", "q")], []),
        ("SELECT count(*) FROM `lab`.`session`", [], [("lab", "session")]),
        ("session > 3", [], []),          # a pandas query string: nothing
        ("SHOW TABLES", [], []),
    ],
)
def test_raw_sql_classification(sql: str, written: list, read: list) -> None:
    assert classify(sql) == (tuple(written), tuple(read))


def test_unusual_syntax_never_crashes_and_still_reports(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    from lab import Session, Weather

    schema = dj.schema("analysis")


    @schema
    class Summary(dj.Computed):
        definition = """
        -> Session
        ---
        total : float
        """

        async def helper(self):
            async with self.lock() as lock:
                async for item in lock:
                    await item

        def make(self, key):
            global COUNTER
            if (n := len(Session & key)) > 0:
                pass
            match key:
                case {"session": 1}:
                    rows = [*range(3), *[4]]
                case _:
                    rows = {**key}
            def inner(*args, **kwargs):
                return inner(*args, **kwargs)
            inner(1, x=2)
            value = (lambda q: q)(Weather)  # expect: DJ201
            value.fetch()
            del rows
            assert Session & key
            try:
                raise ValueError
            except* ValueError:
                pass
            with open("x") as handle, open("y"):
                handle.read()
            x = [y for y in range(3) if y] + list({1: 2}) + [f"{key!r:>10}"]
            self.insert1(dict(key, total=float(n)))
    '''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})


def test_super_make_and_local_imports(tmp_path: Path) -> None:
    base = '''
    import datajoint as dj


    class Base:
        def make(self, key):
            from lab import Weather
            Weather.fetch()  # expect: DJ201
            self.insert1(dict(key, total=0.0))
    '''
    analysis = '''
    import datajoint as dj
    from lab import Session
    from base import Base

    schema = dj.schema("analysis")


    @schema
    class Summary(Base, dj.Computed):
        definition = """
        -> Session
        ---
        total : float
        """

        def make(self, key):
            import lab as laboratory
            laboratory.Rig.fetch()  # expect: DJ201
            super().make(key)
    '''
    check(tmp_path, {"lab.py": LAB, "base.py": base, "analysis.py": analysis})


def test_generator_function_bodies_are_analysed(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    from lab import Session, Weather

    schema = dj.schema("analysis")


    def rows(key):
        for day in Weather.fetch("day"):  # expect: DJ201
            yield dict(key, day=day)


    @schema
    class Summary(dj.Computed):
        definition = """
        -> Session
        """

        class Day(dj.Part):
            definition = """
            -> master
            day : date
            """

        def make(self, key):
            self.insert1(key)
            self.Day.insert(rows(key))
    '''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})
