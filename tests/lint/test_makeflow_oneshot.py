"""DJ401 (one-shot iterables consumed twice), DJ501 (separate connections), and code that is not
make() (key_source, contents, module-level scripts, uncalled functions) never being reported."""

from __future__ import annotations

from pathlib import Path

from makeflow_harness import LAB, check

HEAD = '''
import itertools
import datajoint as dj
from lab import Session, Weather

schema = dj.schema("analysis")


def unit_rows(key):
    for i in range(3):
        yield dict(key, item=i)


@schema
class Summary(dj.Computed):
    definition = """
    -> Session
    ---
    total : float
    """

    class Item(dj.Part):
        definition = """
        -> master
        item : int
        """
'''


def test_one_shot_iterables_consumed_twice(tmp_path: Path) -> None:
    analysis = HEAD + '''
    def make(self, key):
        rows = (dict(key, item=i) for i in range(3))
        self.Item.insert(rows)
        self.insert1(dict(key, total=float(len(list(rows)))))  # expect: DJ401
        gen = unit_rows(key)
        for row in gen:
            pass
        self.Item.insert(gen)  # expect: DJ401
        pairs = zip(range(3), range(3))
        first = sum(a for a, b in pairs)
        again = 1 in pairs  # expect: DJ401
        mapped = map(str, range(3))
        text = sorted(mapped)
        more = tuple(mapped)  # expect: DJ401
        chained = itertools.chain([1], [2])
        listed = set(chained)
        listed_again = [c for c in chained]  # expect: DJ401
        backwards = reversed([1, 2])
        s1 = list(backwards)
        s2 = list(backwards)  # expect: DJ401
        numbered = enumerate([1, 2])
        e1 = dict(numbered)
        e2 = list(numbered)  # expect: DJ401
        self.consume_twice(filter(None, [1]))
        kept = iter([1, 2])
        k1 = list(kept)
        k2 = sum(kept)  # expect: DJ401

    def consume_twice(self, items):
        one = list(items)
        two = list(items)  # expect: DJ401
'''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})


def test_one_shot_iterables_consumed_once_are_legal(tmp_path: Path) -> None:
    analysis = HEAD + '''
    def make(self, key):
        rows = (dict(key, item=i) for i in range(3))
        self.Item.insert(rows)
        self.Item.insert(unit_rows(key))
        materialised = list(dict(key, item=i) for i in range(3))
        self.Item.insert(materialised)
        self.insert1(dict(key, total=float(len(materialised))))
        for part in range(2):
            fresh = (dict(key, item=i) for i in range(3))
            self.Item.insert(fresh)
        chosen = map(str, range(3))
        if key:
            out = list(chosen)
        else:
            out = tuple(chosen)
        header = iter([1, 2, 3])
        names = next(header)
        values = list(header)
        rebound = (i for i in range(3))
        rebound = list(rebound)
        total = len(rebound) + sum(rebound)
'''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})


def test_separate_connections(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    import pymysql
    import psycopg2
    from sqlalchemy import create_engine
    from lab import Session

    schema = dj.schema("analysis")


    def open_side_channel():
        return pymysql.connect(host="db", user="me")  # expect: DJ501


    @schema
    class Summary(dj.Computed):
        definition = """
        -> Session
        ---
        total : float
        """

        def make(self, key):
            a = psycopg2.connect("dbname=lab")  # expect: DJ501
            b = dj.Connection("db", "me", "secret")  # expect: DJ501
            c = dj.conn(reset=True)  # expect: DJ501
            d = dj.conn("other", "me", "secret", reset=True)  # expect: DJ501
            cached = dj.conn(host="other")  # returns the connection already open
            e = create_engine("mysql://db")  # expect: DJ501
            open_side_channel()
            same = dj.conn()
            also_same = dj.conn(reset=False)
            import psycopg
            f = psycopg.connect("dbname=lab")  # expect: DJ501
            self.insert1(dict(key, total=0.0))


    connection = pymysql.connect(host="db")
    '''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})


def test_code_that_is_not_make_is_never_reported(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    import pymysql
    from lab import Session, Weather, Rig

    schema = dj.schema("analysis")


    @schema
    class Condition(dj.Lookup):
        definition = """
        condition : int
        ---
        label : varchar(8)
        """
        contents = zip(range(3), ("a", "b", "c"))


    @schema
    class Summary(dj.Computed):
        definition = """
        -> Session
        ---
        total : float
        """

        @property
        def key_source(self):
            return Session & (Weather & "temperature > 3") & Rig

        def make(self, key):
            self.insert1(dict(key, total=0.0))

        def report(self):
            Weather.insert1(dict(day="2024-01-01", temperature=1.0))
            return Rig.fetch()


    def script():
        rows = (r for r in Rig.fetch())
        Weather.insert(rows)
        Weather.insert(rows)
        pymysql.connect()


    rows = (r for r in Weather.fetch())
    Rig.insert(rows)
    Rig.insert(rows)
    Session.insert1({"subject_id": 1, "session": 2})
    '''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})


def test_loops_and_exception_handlers(tmp_path: Path) -> None:
    analysis = HEAD + '''
    def make(self, key):
        ids = (i for i in range(3))
        for shank in range(4):
            self.Item.insert(dict(key, item=i) for i in ids)  # expect: DJ401
        once = (i for i in range(3))
        for shank in range(4):
            self.Item.insert(dict(key, item=i) for i in once)
            break
        retried = (dict(key, item=i) for i in range(3))
        try:
            self.Item.insert(retried)  # datajoint drains the generator into a list, then the server fails
        except dj.DataJointError:
            self.Item.insert(retried, skip_duplicates=True)  # expect: DJ401
        listed = [dict(key, item=i) for i in range(3)]
        try:
            self.Item.insert(listed)
        except dj.DataJointError:
            self.Item.insert(listed, skip_duplicates=True)
        try:
            self.Item.insert(dict(key, item=i) for i in range(3))
        except dj.DataJointError:
            self.Item.insert((dict(key, item=i) for i in range(3)), skip_duplicates=True)
        made_before = (dict(key, item=i) for i in range(3))
        try:
            check = len(self & key)
        except dj.DataJointError:
            check = 0
        self.Item.insert(made_before)
        per_iteration = [1, 2]
        for shank in range(4):
            fresh = iter(per_iteration)
            total = sum(fresh)
'''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})


def test_consumption_on_a_returning_path_of_a_helper_counts(tmp_path: Path) -> None:
    analysis = HEAD + '''
    def make(self, key):
        rows = (dict(key, item=i) for i in range(3))
        count = self.count(rows, key)
        self.Item.insert(rows)  # expect: DJ401

    def count(self, rows, key):
        if key:
            return len(list(rows))
        return 0
'''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})


def test_partial_consumption_by_design_is_legal(tmp_path: Path) -> None:
    analysis = HEAD + '''
    def make(self, key):
        pending = (dict(key, item=i) for i in range(3000))
        while True:
            batch = list(itertools.islice(pending, 500))
            if not batch:
                break
            self.Item.insert(batch)
        lines = iter(["# header", "# ---", "1", "2"])
        for line in lines:
            if line == "# ---":
                break
        self.Item.insert(dict(key, item=int(x)) for x in lines)
        rest = iter([1, 2, 3])
        for value in rest:
            for inner in range(2):
                break
        again = list(rest)  # expect: DJ401
'''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})
