"""``self.upstream`` inside make() under djruntime: seeded from the key, for every parent."""

from __future__ import annotations

import datajoint as dj
import pytest
from datajoint.autopopulate import AutoPopulate

from djruntime.engine.populate import install_engine, uninstall_engine


@pytest.fixture(params=["mysql", "postgres"])
def server(request):
    return request.getfixturevalue(f"{request.param}_server")


@pytest.fixture
def installed():
    install_engine()
    yield
    uninstall_engine()


def declare(schema, seen: dict):
    class Subject(dj.Manual):
        definition = """
        subject_id : int32
        ---
        species : varchar(16)
        """

    class Session(dj.Manual):
        definition = """
        -> Subject
        session_id : int32
        """

    class Param(dj.Lookup):
        definition = """
        param_id : int32
        ---
        gain : float64
        """
        contents = [(1, 0.5), (2, 2.0)]

    class Probe(dj.Manual):
        definition = """
        probe_id : int32
        ---
        channels : int32
        """

    class Analysis(dj.Computed):  # a key spanning two parents, one of them with its own parent
        definition = """
        -> Session
        -> Param
        """

        def make(self, key):
            seen[tuple(sorted(key.items()))] = {
                "param": self.upstream[Param].to_dicts(),
                "session": self.upstream[Session].keys(),
                "subject": self.upstream[Subject].keys(),
            }
            self.insert1(key)

    class Pair(dj.Computed):  # two foreign keys to one parent, one renamed
        definition = """
        -> Probe
        -> Probe.proj(ref='probe_id')
        """

        def make(self, key):
            seen[tuple(sorted(key.items()))] = {"probe": self.upstream[Probe].keys(order_by="probe_id")}
            self.insert1(key)

    namespace = {
        "Subject": Subject, "Session": Session, "Param": Param, "Probe": Probe, "Analysis": Analysis, "Pair": Pair
    }
    for cls in namespace.values():
        schema(cls, context=namespace)
    Subject.insert([{"subject_id": 1, "species": "mouse"}, {"subject_id": 2, "species": "rat"}])
    Session.insert([{"subject_id": 1, "session_id": 1}, {"subject_id": 2, "session_id": 1}])
    Probe.insert([{"probe_id": 10, "channels": 64}, {"probe_id": 20, "channels": 128}])
    return namespace


def test_multi_parent_key(server, schema_factory, installed):
    schema, _ = schema_factory(server)
    seen: dict = {}
    t = declare(schema, seen)
    assert t["Analysis"].populate(reserve_jobs=True)["success_count"] == 4
    view = seen[(("param_id", 2), ("session_id", 1), ("subject_id", 2))]
    assert view["param"] == [{"param_id": 2, "gain": 2.0}]
    assert view["session"] == [{"subject_id": 2, "session_id": 1}]
    assert view["subject"] == [{"subject_id": 2}]


def test_two_foreign_keys_to_one_parent_one_renamed(server, schema_factory, installed):
    schema, _ = schema_factory(server)
    seen: dict = {}
    t = declare(schema, seen)
    t["Pair"].populate({"probe_id": 10, "ref": 20})
    assert seen[(("probe_id", 10), ("ref", 20))]["probe"] == [{"probe_id": 10}, {"probe_id": 20}]
    t["Pair"].populate({"probe_id": 20, "ref": 20})
    assert seen[(("probe_id", 20), ("ref", 20))]["probe"] == [{"probe_id": 20}]


def test_datajoint_own_trace_misses_the_second_parent(server, schema_factory):
    """Why djruntime replaces the property: datajoint 2.3.5 seeds from the not-yet-inserted row."""
    schema, _ = schema_factory(server)
    seen: dict = {}
    t = declare(schema, seen)
    assert isinstance(AutoPopulate.__dict__["upstream"], property)
    t["Analysis"].populate({"subject_id": 1, "param_id": 1})
    assert seen[(("param_id", 1), ("session_id", 1), ("subject_id", 1))]["param"] == []


def test_upstream_outside_make_and_non_ancestor(server, schema_factory, installed):
    schema, _ = schema_factory(server)
    seen: dict = {}
    t = declare(schema, seen)
    with pytest.raises(dj.DataJointError, match="only available inside make"):
        _ = t["Analysis"]().upstream
    errors = []

    def make(self, key):
        try:
            self.upstream[t["Probe"]]
        except dj.DataJointError as error:
            errors.append(str(error))
        self.insert1(key)

    t["Analysis"].make = make
    t["Analysis"].populate(max_calls=1)
    assert errors and "not in this trace" in errors[0]


def test_upstream_in_tripartite_make(server, schema_factory, installed):
    schema, _ = schema_factory(server)
    seen: dict = {}
    t = declare(schema, seen)
    Session, Param = t["Session"], t["Param"]

    class Gain(dj.Computed):
        definition = """
        -> Session
        -> Param
        ---
        gain : float64
        """

        def make_fetch(self, key):
            return (self.upstream[Param].fetch1("gain"),)

        def make_compute(self, key, gain):
            return (gain * 10,)

        def make_insert(self, key, gain):
            self.insert1({**key, "gain": gain})

    schema(Gain, context={**t, "Gain": Gain})
    assert Gain.populate(reserve_jobs=True) == {"success_count": 4, "error_list": []}
    assert sorted((r["param_id"], r["gain"]) for r in Gain().to_dicts()) == [(1, 5.0), (1, 5.0), (2, 20.0), (2, 20.0)]
