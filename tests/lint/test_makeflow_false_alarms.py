"""Four classes of false alarm of the make() interpreter (issue 12, section 5), each with the look-alikes
that must still be reported:

* one * unpacking (``zip(*g)``, ``map(f, *g)``, ``f(*g)``, ``[*g]``...) consumes a generator once;
* a branch whose test a helper's literal arguments or defaults decide cannot run;
* a function stored in a class without ``self``/``cls``, called through the class, binds its own
  arguments (and a staticmethod never binds the receiver);
* a table or module chosen at run time among alternatives: its reads carry every alternative
  (``Read.alternatives``), so DJ201 can judge them all.
"""

from __future__ import annotations

from pathlib import Path

from makeflow_harness import LAB, check, line_of, write_repo

from djlint.build import build_model
from djlint.config import load_config
from djlint.makeflow import analyze_makes
from djlint.makeflow.cache import decode_fact, encode_fact
from djlint.makeflow.facts import Location, Read

HEAD = '''
import itertools
import datajoint as dj
from lab import Session, Weather, Rig

schema = dj.schema("analysis")


def rows_of(key):
    for i in range(3):
        yield dict(key, item=i)


def pair(a, b):
    return a + b


def gather(*items):
    return list(items)


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


# ---------------------------------------------------------------- * unpacking

def test_one_star_unpacking_consumes_a_generator_once(tmp_path: Path) -> None:
    analysis = HEAD + '''
    def make(self, key):
        a, b = zip(*((i, i) for i in range(3)))
        columns = list(zip(*rows_of(key)))
        mapped = list(map(pair, *((j for j in range(2)), (k for k in range(2)))))
        spread = map(pair, *(g for g in [[1, 2], [3, 4]]))
        listed = list(spread)
        print(*(i for i in range(3)))
        gathered = gather(*(i for i in range(3)))
        as_list = [*(i for i in range(3))]
        as_set = {*(i for i in range(3))}
        as_tuple = (*(i for i in range(3)),)
        chained = list(itertools.chain(*([i] for i in range(3))))
        crossed = list(itertools.product(*([i, -i] for i in range(2))))
        ordered = sorted(*[(i for i in range(3))])
        self.Item.insert(dict(key, item=i) for i in range(3))
'''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})


def test_a_generator_star_unpacked_twice_is_reused(tmp_path: Path) -> None:
    analysis = HEAD + '''
    def make(self, key):
        points = ((i, i) for i in range(3))
        xs, ys = zip(*points)
        again = list(zip(*points))  # expect: DJ401
        shown = rows_of(key)
        print(*shown)
        self.Item.insert(shown)  # expect: DJ401
        doubled = (i for i in range(3))
        both = [*doubled, *doubled]  # expect: DJ401
        chained = (g for g in [[1], [2]])
        flat = list(itertools.chain(*chained))
        rest = list(chained)  # expect: DJ401
        mapped = (g for g in [[1], [2]])
        first = list(map(pair, *mapped))
        second = gather(*mapped)  # expect: DJ401
'''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})


# ---------------------------------------------------------------- branches that cannot run

def test_branches_decided_by_literal_arguments_or_defaults_do_not_run(tmp_path: Path) -> None:
    helpers = '''
    from lab import Weather

    DEFAULT_PERIOD = 30


    def store(part, rows, period=None, unbinned=False):
        if period is None or unbinned:
            part.insert(rows)
        part.insert(rows)


    def summarise(rows, verbose=False):
        counted = [len(list(rows)) if verbose else 0 for _ in range(1)]
        if verbose is True:
            print(Weather.fetch())
        return sum(1 for _ in rows), counted
    '''
    analysis = HEAD.replace("from lab import", "from helpers import store, summarise, DEFAULT_PERIOD\nfrom lab import") + '''
    def _default(self, key, rows, period=30):
        if not period:
            self.Item.insert(rows)
        self.Item.insert(rows)

    def _none_default(self, key, rows, period=None):
        if period is not None:
            self.Item.insert(rows)
        self.Item.insert(rows)

    def _passed(self, key, rows, flag, mode):
        if flag:
            total = len(list(rows))
        elif mode == "count" or flag:
            total = sum(1 for _ in rows)
        else:
            total = 0
        if mode != "insert":
            pass
        else:
            self.Item.insert(rows)
        return total

    def _conditional(self, key, rows, verbose=False):
        listed = list(rows) if verbose else None
        self.Item.insert(rows)

    def _in_loop(self, key, debug=False):
        for day in range(3):
            rows = rows_of(key)
            if debug:
                print(list(rows))
            self.Item.insert(rows)

    def _plot(self, key, plot=False):
        if plot:
            return (Weather & key).fetch()
        return None

    def _ordered(self, key, rows, period=30, mode="bins"):
        if period <= 0 or mode not in ("bins", "epochs"):
            self.Item.insert(rows)
        self.Item.insert(rows)

    def make(self, key):
        store(self.Item, rows_of(key), period=DEFAULT_PERIOD)
        store(self.Item, rows_of(key), 30, False)
        summarise(rows_of(key))
        self._ordered(key, rows_of(key))
        self._ordered(key, rows_of(key), 2.5, mode="epochs")
        self._default(key, rows_of(key))
        self._none_default(key, rows_of(key))
        self._none_default(key, rows_of(key), period=None)
        self._passed(key, rows_of(key), False, "insert")
        self._passed(key, rows_of(key), flag=0, mode="insert")
        self._conditional(key, rows_of(key))
        self._in_loop(key)
        self._plot(key)
        self._plot(key, plot=False)
        self.insert1(dict(key, total=0.0))
'''
    check(tmp_path, {"lab.py": LAB, "helpers.py": helpers, "analysis.py": analysis})


def test_branches_that_can_run_are_still_followed(tmp_path: Path) -> None:
    analysis = HEAD + '''
    def _default(self, key, rows, period=30):
        if not period:
            self.Item.insert(rows)
        self.Item.insert(rows)  # expect: DJ401

    def _none_default(self, key, rows, period=None):
        if period is None:
            self.Item.insert(rows)
        self.Item.insert(rows)  # expect: DJ401

    def _rebound(self, key, rows, period=30):
        if key:
            period = 0
        if not period:
            self.Item.insert(rows)
        self.Item.insert(rows)  # expect: DJ401

    def _passed(self, key, rows, mode):
        if mode == "count":
            total = len(list(rows))
        self.Item.insert(rows)  # expect: DJ401

    def _plot(self, key, plot=False):
        if plot:
            return (Weather & key).fetch()  # expect: DJ201
        return None

    def _threshold(self, key, rows, period=30):
        if period > 10:
            self.Item.insert(rows)
        self.Item.insert(rows)  # expect: DJ401

    def make(self, key, verbose=False):
        self._threshold(key, rows_of(key))
        self._default(key, rows_of(key), period=0)
        self._none_default(key, rows_of(key))
        self._rebound(key, rows_of(key))
        self._passed(key, rows_of(key), key["mode"])
        self._plot(key, plot=True)
        rows = rows_of(key)
        # make()'s own extra parameters can be set by populate(make_kwargs=...): not fixed
        if verbose:
            print(list(rows))
        self.Item.insert(rows)  # expect: DJ401
        self.insert1(dict(key, total=0.0))
'''
    check(tmp_path, {"lab.py": LAB, "analysis.py": analysis})


# ---------------------------------------------------------------- functions stored in classes

CLASS_TABLES = LAB + '''

@schema
class Camera(dj.Lookup):
    definition = """
    camera : varchar(16)
    """
    contents = [("top",)]

    def frames_of(key, scale=1):
        return len(Session & key) * scale

    @staticmethod
    def rate_of(key):
        return len(Session & key)

    def rows_for(self, key):
        return len(self & key)

    @classmethod
    def first(cls, key):
        return (cls & key).fetch(limit=1)

    def sideways(key):
        return Weather.fetch()  # expect: DJ201


class Units:
    def convert(key):
        return len(Session & key)

    @staticmethod
    def scale(key):
        return len(Session & key)
'''


def test_class_functions_called_through_the_class_bind_their_arguments(tmp_path: Path) -> None:
    analysis = '''
    import datajoint as dj
    import lab
    from lab import Session, Camera, Units

    schema = dj.schema("analysis")


    class Base:
        @staticmethod
        def count(key):
            return len(Session & key)


    @schema
    class Summary(Base, dj.Computed):
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

            def label(item):
                return str(item)

        def normalise(total):
            return float(total)

        @staticmethod
        def count(key):
            return super().count(key)

        @classmethod
        def through_cls(cls, key):
            return cls.normalise(key)

        def make(self, key):
            n = Camera.frames_of(key) + lab.Camera.frames_of(key, scale=2)
            n += Camera.rate_of(key) + Camera().rate_of(key) + lab.Camera.rate_of(key)
            n += Units.convert(key) + Units.scale(key) + Units().scale(key)
            labels = [self.Item.label(i) for i in range(3)] + [Summary.Item.label(0)]
            n += type(self).normalise(n) + self.__class__.normalise(n) + Summary.normalise(n)
            n += self.through_cls(key) + self.count(key)
            alias = Camera
            n += alias.frames_of(key)
            Camera.sideways(key)
            self.insert1(dict(key, total=float(n + len(labels))))


    @schema
    class Methods(dj.Computed):
        definition = """
        -> Session
        """

        def make(self, key):
            # a method with self on an instance, a classmethod through the class: the table is read
            a = Camera().rows_for(key)  # expect: DJ201
            b = Camera.first(key)  # expect: DJ201
            cam = Camera()  # expect: DJ201
            c = cam.rows_for(key)
            table = Camera  # expect: DJ201
            d = table.rows_for(key)
            self.insert1(key)
    '''
    check(tmp_path, {"lab.py": CLASS_TABLES, "analysis.py": analysis})


# ---------------------------------------------------------------- tables chosen at run time

CHOICE = '''
import datajoint as dj
import lab
import other_lab
from lab import Session, Weather, Rig

schema = dj.schema("analysis")


@schema
class Summary(dj.Computed):
    definition = """
    -> Session
    """

    def make(self, key):
        mod = lab if (lab.Session & key) else other_lab
        (mod.Weather & key).fetch()
        if key.get("x"):
            src = Session
        else:
            src = Weather
        src.fetch()
        either = (Session & key) or (Weather & key)
        either.fetch()
        picked = (Weather if key else Rig) * Session.Block
        len(picked)
        maybe = Rig if key else None
        len(maybe)
        q = Session & key
        if key:
            q = q * Weather
        len(q)
        part = (Session if key else other_lab.Session).Block
        part.fetch()
        if key:
            unrelated = (Rig & key).fetch()
        else:
            unrelated = None
        arm = (Rig & key) if key else (Weather & key)
        if key.get("a"):
            three = Session
        elif key.get("b"):
            three = Weather
        else:
            three = Rig
        len(three)
        self.insert1(key)
'''


def _alternatives(tmp_path: Path, files: dict[str, str]):
    """A lookup ``(text on the line, target) -> the set of alternatives its reads carry``."""
    write_repo(tmp_path, files)
    model = build_model([tmp_path], load_config(tmp_path), tmp_path, use_cache=False)
    facts = analyze_makes(model)
    found: dict[tuple[int, str], set[tuple[str, ...]]] = {}
    for read in facts.reads:
        if read.path == "analysis.py":
            found.setdefault((read.line, read.target), set()).add(read.alternatives)

    def at(text: str, target: str) -> set[tuple[str, ...]]:
        return found[line_of(tmp_path / "analysis.py", text), target]

    return at


def test_reads_of_a_table_chosen_at_run_time_carry_the_alternatives(tmp_path: Path) -> None:
    other = LAB.replace('"lab"', '"other_lab"')
    at = _alternatives(tmp_path, {"lab.py": LAB, "other_lab.py": other, "analysis.py": CHOICE})
    # a module chosen by a conditional expression: its tables are alternatives of one another
    assert at("(mod.Weather", "lab.Weather") == {("lab.Weather", "other_lab.Weather")}
    assert at("(mod.Weather", "other_lab.Weather") == {("lab.Weather", "other_lab.Weather")}
    # the test itself always runs
    assert at("mod = lab if", "lab.Session") == {()}
    # an if/else binding one name
    assert at("src = Session", "lab.Session") == {("lab.Session", "lab.Weather")}
    assert at("src = Weather", "lab.Weather") == {("lab.Session", "lab.Weather")}
    # `a or b`: the first operand (and its truth test) always runs; the second is an alternative
    assert () in at("either = ", "lab.Session")
    assert at("either = ", "lab.Weather") == {("lab.Session", "lab.Weather")}
    # a choice joined with a third table: the third is no alternative
    assert at("picked = ", "lab.Weather") == {("lab.Rig", "lab.Weather")}
    assert at("picked = ", "lab.Session.Block") == {()}
    # one arm holds no table: nothing to choose from
    assert at("maybe = ", "lab.Rig") == {()}
    # a table joined in on one path extends the other: not an alternative
    assert at("q = Session", "lab.Session") == {()}
    assert at("q = q * Weather", "lab.Weather") == {()}
    # a Part of a chosen table: the Parts are alternatives
    parts = {("lab.Session.Block", "other_lab.Session.Block")}
    assert at("part = ", "lab.Session.Block") == at("part = ", "other_lab.Session.Block") == parts
    # a read inside one branch that chooses nothing
    assert at("unrelated = (Rig", "lab.Rig") == {()}
    # reads that build one arm of a conditional expression
    assert at("arm = ", "lab.Rig") == at("arm = ", "lab.Weather") == {("lab.Rig", "lab.Weather")}
    # if/elif/else: one of three
    assert at("three = Weather", "lab.Weather") == {("lab.Rig", "lab.Session", "lab.Weather")}
    assert at("three = Session", "lab.Session") == {("lab.Rig", "lab.Session", "lab.Weather")}


def test_alternatives_survive_the_facts_cache() -> None:
    read = Read("a.T", Location("a.py", 3, 5), "fetch", "lab.Weather", alternatives=("lab.Rig", "lab.Weather"))
    assert decode_fact(encode_fact(read)) == read
    plain = Read("a.T", Location("a.py", 3, 5), "fetch", "lab.Weather", via=("a.helper",),
                 executes=Location("a.py", 9, 1), call=Location("a.py", 2, 5))
    assert decode_fact(encode_fact(plain)) == plain
