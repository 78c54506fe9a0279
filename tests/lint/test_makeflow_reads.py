"""DJ201/DJ202: every read idiom of make() on a table outside the allowed set is reported at the line
that names the table; the same idioms on ancestors, Parts of ancestors, parents of own Parts, the table
itself and its Parts are not."""

from __future__ import annotations

from pathlib import Path

from makeflow_harness import LAB, check



def test_every_read_idiom_on_a_non_ancestor_is_reported(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    from lab import Session, Weather, Rig
    import lab

    schema = dj.schema("analysis")


    @schema
    class Summary(dj.Computed):
        definition = """
        -> Session
        ---
        total : float
        """

        def make(self, key):
            a = Weather.fetch()  # expect: DJ201
            b = Weather.fetch1("temperature")  # expect: DJ201
            c = Weather.fetch("KEY")  # expect: DJ201
            d = Weather.fetch(as_dict=True, order_by="day")  # expect: DJ201
            e = Weather().to_dicts()  # expect: DJ201
            f = Weather.to_arrays("temperature")  # expect: DJ201
            g = Weather.to_pandas()  # expect: DJ201
            h = Weather.keys()  # expect: DJ201
            i = Weather.head(3)  # expect: DJ201
            j = Weather.tail(3)  # expect: DJ201
            for row in Weather:  # expect: DJ201
                pass
            k = [r for r in Weather()]  # expect: DJ201
            m = list(Weather)  # expect: DJ201
            n = len(Weather)  # expect: DJ201
            o = bool(Weather())  # expect: DJ201
            if Weather():  # expect: DJ201
                pass
            while not Weather():  # expect: DJ201
                break
            p = key in Weather  # expect: DJ201
            q = key not in lab.Weather  # expect: DJ201
            r = Session & Weather  # expect: DJ201
            s = Session - Weather  # expect: DJ201
            t = Session * Weather  # expect: DJ201
            u = Session.proj() + Weather.proj()  # expect: DJ201
            v = Session.aggr(Weather, n="count(*)")  # expect: DJ201
            w = Session.restrict(Weather)  # expect: DJ201
            x = dj.U("day") & Weather  # expect: DJ201
            x2 = dj.U("day").aggr(Weather, n="count(*)")  # expect: DJ201
            x3 = (dj.U("day") * Weather).fetch()  # expect: DJ201
            y = Session & dj.Not(Weather)  # expect: DJ201
            y2 = Session & -Weather  # expect: DJ201
            y3 = (Session ^ Weather) @ Rig  # expect: DJ201
            z = Session & [Weather, {"session": 1}]  # expect: DJ201
            aa = Session & dj.AndList([Rig])  # expect: DJ201
            bb = (Weather & {"day": key["session"]}).proj("temperature")  # expect: DJ201
            self.insert1(dict(key, total=0.0))
    '''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})


def test_reads_through_local_variables_and_chains_point_at_the_naming_line(tmp_path: Path) -> None:
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

        def make(self, key):
            table = Weather  # expect: DJ201
            other = table
            rows = other.fetch()
            query = (Session & key)
            narrowed = query.proj()
            values = narrowed.fetch("session")
            self.insert1(dict(key, total=float(len(rows) + len(values))))
    '''
    diagnostics = check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})
    assert "Summary.make() reads Weather (lab)" in diagnostics[0].message


def test_allowed_reads_are_silent(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    from lab import Subject, Session, Weather, Rig

    schema = dj.schema("analysis")


    @schema
    class Summary(dj.Computed):
        definition = """
        -> Session
        ---
        total : float
        """

        class Reading(dj.Part):
            definition = """
            -> master
            -> Weather
            """

        def make(self, key):
            subject = (Subject & key).fetch1()
            blocks = (Session.Block & key).fetch("KEY")
            weather = Weather.fetch()
            done = len(self & key) + len(self.Reading & key)
            up = self.upstream[Session].fetch1()
            ok = key in Session and bool(Subject & key)
            self.insert1(dict(key, total=0.0))
            self.Reading.insert(dict(key, day=d) for d in weather["day"])
    '''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})


def test_policy_reads_are_sanctioned(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    from lab import Session, Weather, Rig

    schema = dj.schema("analysis")


    @schema
    class Summary(dj.Computed):
        definition = """
        -> Session
        ---
        total : float
        """

        def make(self, key):
            weather = Weather.fetch()
            rigs = Rig.fetch()  # expect: DJ201
            self.insert1(dict(key, total=0.0))
    '''
    pyproject = '''
    [tool.djlint.allow."analysis.Summary"]
    reads = ["lab.Weather"]
    '''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis}, pyproject)


def test_unknown_ancestry_and_unknown_targets_never_alarm(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    from lab import Session, Weather

    schema = dj.schema("analysis")
    elements = dj.create_virtual_module("elements", "not_in_this_repo")


    @schema
    class Linked(dj.Computed):
        definition = """
        -> Session
        -> LinkedParent
        ---
        total : float
        """

        def make(self, key):
            weather = Weather.fetch()
            self.insert1(dict(key, total=0.0))


    @schema
    class Summary(dj.Computed):
        definition = """
        -> Session
        ---
        total : float
        """

        def make(self, key):
            probe = (elements.Probe & key).fetch()
            other = (SomethingInjected & key).fetch1()
            self.insert1(dict(key, total=0.0))
    '''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})


def test_upstream_index_of_a_non_ancestor(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    from lab import Subject, Session, Weather

    schema = dj.schema("analysis")


    @schema
    class Summary(dj.Computed):
        definition = """
        -> Session
        ---
        total : float
        """

        def make(self, key):
            subject = self.upstream[Subject].fetch1()
            weather = self.upstream[Weather].fetch()  # expect: DJ202
            blocks = self.upstream[Session.Block].fetch()  # expect: DJ202
            seed = self.upstream[Summary].fetch()
            self.insert1(dict(key, total=0.0))
    '''
    diagnostics = check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})
    dj202 = [d for d in diagnostics if d.code == "DJ202"]
    assert dj202[0].column == 33 and "self.upstream[Weather (lab)]" in dj202[0].message


def test_tripartite_and_legacy_make_names(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    from lab import Session, Weather, Rig

    schema = dj.schema("analysis")


    @schema
    class Tripartite(dj.Computed):
        definition = """
        -> Session
        ---
        total : float
        """

        def make_fetch(self, key):
            return (Weather & key).fetch()  # expect: DJ201

        def make_compute(self, key, weather):
            return len(Rig())  # expect: DJ201

        def make_insert(self, key, total):
            self.insert1(dict(key, total=total))


    @schema
    class Legacy(dj.Imported):
        definition = """
        -> Session
        ---
        total : float
        """

        def _make_tuples(self, key):
            self.insert1(dict(key, total=len(Weather())))  # expect: DJ201
    '''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})


def test_free_tables_named_by_database_name(tmp_path: Path) -> None:
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

        def make(self, key):
            weather = dj.FreeTable(dj.conn(), "`lab`.`weather`").fetch()  # expect: DJ201
            sessions = dj.FreeTable(dj.conn(), "lab.session").fetch()
            unknown = dj.FreeTable(dj.conn(), "`elsewhere`.`thing`").fetch()
            self.insert1(dict(key, total=0.0))
    '''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})


def test_virtual_modules_created_inside_make(tmp_path: Path) -> None:
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

        def make(self, key):
            lab = dj.create_virtual_module("lab", "lab")
            weather = lab.Weather.fetch()  # expect: DJ201
            subjects = (lab.Subject & key).fetch()
            other = dj.create_virtual_module("other", "not_declared_here")
            things = other.Thing.fetch()
            self.insert1(dict(key, total=0.0))
    '''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})
