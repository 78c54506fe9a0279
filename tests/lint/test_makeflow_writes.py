"""DJ301 (writes to other tables) and DJ302 (rows whose key differs from the make key)."""

from __future__ import annotations

from pathlib import Path

from makeflow_harness import LAB, check, line_of

TASKS = LAB + '''

@schema
class Task(dj.Manual):
    definition = """
    -> Session
    ---
    status : varchar(16)
    """
'''


def test_every_write_idiom_on_another_table(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    from lab import Session, Task, Weather, Rig
    import lab

    schema = dj.schema("analysis")


    @schema
    class Summary(dj.Computed):
        definition = """
        -> Task
        ---
        total : float
        """

        class Item(dj.Part):
            definition = """
            -> master
            item : int
            """

        def make(self, key):
            Task.update1({**key, "status": "running"})  # expect: DJ301
            Weather.insert1(dict(day="2024-01-01", temperature=1.0))  # expect: DJ301
            lab.Rig.insert([("C",)])  # expect: DJ301
            Rig().insert1(("D",), skip_duplicates=True)  # expect: DJ301
            (Weather & "temperature > 40").delete()  # expect: DJ301
            Weather.delete_quick()  # expect: DJ301
            Rig.drop()  # expect: DJ301
            dj.conn().query("INSERT INTO `lab`.`#rig` (rig) VALUES (%s)", args=("E",))  # expect: DJ301
            dj.conn().query("update lab.task set status='x' where session=%s", args=(1,))  # expect: DJ301
            dj.conn().query("SELECT * FROM `lab`.`task`")
            dj.conn().query("INSERT INTO `elsewhere`.`thing` VALUES (1)")
            self.insert1(dict(key, total=0.0))
            self.Item.insert(dict(key, item=i) for i in range(3))
            (self.Item & key).delete()
            Summary.Item.insert1(dict(key, item=9))
    '''
    diagnostics = check(tmp_path, {"lab.py": TASKS, "analysis.py": analysis})
    by_line = {d.line: d for d in diagnostics}
    assert "writes Task (lab) (update1)" in by_line[line_of(tmp_path / "analysis.py", "Task.update1")].message
    raw = by_line[line_of(tmp_path / "analysis.py", "INSERT INTO `lab`")]
    assert raw.column == 25 and "raw SQL" in raw.message


def test_policy_writes_and_unknown_tables(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    from lab import Session, Task, Weather

    schema = dj.schema("analysis")


    @schema
    class Ingest(dj.Imported):
        definition = """
        -> Session
        """

        def make(self, key):
            Weather.insert1(dict(day="2024-01-01", temperature=1.0))
            Task.insert1(dict(key, status="new"))  # expect: DJ301
            InjectedByLinking.insert1(dict(key))
            self.insert1(key)
    '''
    pyproject = '''
    [tool.djlint.allow."analysis.Ingest"]
    writes = ["lab.Weather"]
    '''
    check(tmp_path, {"lab.py": TASKS, "analysis.py": analysis}, pyproject)


def test_rows_whose_key_differs_from_the_make_key(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    from lab import Session

    schema = dj.schema("analysis")


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

        def make(self, key):
            other = key["session"]
            self.insert1({**key, "session": 3, "total": 0.0})  # expect: DJ302
            self.insert1(dict(key, subject_id=other, total=0.0))  # expect: DJ302
            self.insert1({"subject_id": 7, "session": key["session"], "total": 0.0})  # expect: DJ302
            row = dict(key, total=1.0)
            row["session"] = 0  # expect: DJ302
            self.insert1(row)
            self.Item.insert(dict(key, session=i, item=i) for i in range(3))
            self.Item.insert([{**key, "item": 1, "subject_id": 2}])  # expect: DJ302
            copy = key.copy()
            copy.update(session=5)  # expect: DJ302
            self.insert1(copy)
    '''
    diagnostics = check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})
    assert any("session=3" in d.message for d in diagnostics)


def test_rows_that_keep_the_make_key_are_silent(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    from lab import Session

    schema = dj.schema("analysis")


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

        def make(self, key):
            session = (Session & key).fetch1("session")
            self.insert1({"session": 3, **key, "total": 0.0})
            self.insert1(dict(key, session=key["session"], total=0.0))
            self.insert1(dict(key, session=session, total=0.0))
            self.insert1({**key, "total": 2.0})
            self.Item.insert(dict(key, item=i) for i in range(3))
            self.Item.insert1({**key, "item": 4})
            values = compute(key)
            self.insert1({**key, **values})
            self.insert1(dict(key, session=values["session"], total=0.0))


    def compute(key):
        return {"total": 1.0}
    '''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})


def test_key_source_override_limits_key_checks_to_fields_make_reads(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    from lab import Session

    schema = dj.schema("analysis")


    @schema
    class Summary(dj.Computed):
        definition = """
        -> Session
        ---
        total : float
        """

        @property
        def key_source(self):
            return Session.proj(subject_id="subject_id")

        def make(self, key):
            subject = key["subject_id"]
            self.insert1(dict(key, session=1, total=0.0))
            self.insert1(dict(key, subject_id=key["session"], total=0.0))  # expect: DJ302
    '''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})


def test_formatted_sql_naming_the_table_by_class(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    from lab import Session, Task

    schema = dj.schema("analysis")


    @schema
    class Summary(dj.Computed):
        definition = """
        -> Task
        ---
        total : float
        """

        def make(self, key):
            dj.conn().query(f"SELECT * FROM {Task.full_table_name} WHERE session={key['session']}")
            dj.conn().query(f"DELETE FROM {Task.full_table_name} WHERE session={key['session']}")  # expect: DJ301
            self.connection.query(f"UPDATE {self.full_table_name} SET total=0 WHERE session=%s", args=(1,))
            self.insert1(dict(key, total=0.0))
    '''
    check(tmp_path, {"lab.py": TASKS, "analysis.py": analysis})


def test_key_get_and_secondary_attributes_are_not_key_fields(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    from lab import Session

    schema = dj.schema("analysis")


    @schema
    class Mode(dj.Computed):
        definition = """
        -> Session
        ---
        mode : varchar(16)
        """

        def make(self, key):
            chosen = key.get("mode", "auto")
            if key["mode"] if "mode" in key else None:
                pass
            self.insert1(dict(key, mode="auto"))
    '''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})
