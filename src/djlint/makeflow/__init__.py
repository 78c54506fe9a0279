"""Analysis of make() bodies: what each make() reads, writes, opens and consumes.

``analyze_makes(model, cache_dir=None)`` returns the ``MakeFacts`` the DJ201-DJ501 rules turn into
diagnostics. Modules:

* ``driver``  - finds the entry points (make, make_fetch/make_compute/make_insert, _make_tuples) of every
  Computed/Imported table, including a make() inherited from a mixin or base class (analysed once per
  table, ``self`` = that table), and runs the interpreter on each; never raises on user code.
* ``interpreter`` - ``MakeRun``: abstract interpretation over Python ``ast`` of one make(): what each name
  holds (a table or a query expression over tables, a module, a repo class/instance/function, the make
  key, a row dict, a one-shot iterable...), statement by statement, both arms of a branch merged, calls
  into the repository followed (methods of the class and its mixins, properties, Part helpers, other
  tables' methods, functions of other modules, lambdas, tables and modules passed as arguments, Elements'
  ``_linking_module``). An arm whose test the call decides (a literal passed to, or defaulted by, a
  parameter the function never rebinds: ``if not period:``) is not run. Tables or modules a name holds on
  different arms (``mod = acute if ... else chronic``, ``a or b``, if/else) are a run-time choice: each
  read of one carries all of them (``Read.alternatives``) so DJ201 can ask whether every alternative is
  sideways. Its parts, each a mixin over ``state.RunState``:

  - ``statements``      - statement execution: branches, loops, ``try``, assignment targets
  - ``expressions``     - expression evaluation: names, subscripts, calls' arguments, choices, literals
  - ``lookups``         - what a global name or an attribute holds (Parts, properties, class attributes)
  - ``calls``           - following calls into the repository; outside callables of Python itself
  - ``datajoint_api``   - table methods, query operators, ``dj.U``/``dj.FreeTable``, connections, raw SQL
  - ``consumption``     - one-shot iterables and their consumers (OneShotReuse)
  - ``key_consistency`` - rows written with another key (KeyMismatch)
  - ``frames`` (activation records, per-model caches), ``syntax`` (pure ``ast`` helpers)
* ``facts``   - the records (Read, Write, UpstreamIndex, KeyMismatch, OneShotReuse, Connect); a fact kind
  is declared by its ``list[...]`` field of ``MakeFacts``.
* ``keys``    - the attributes of a table's make key, from the definitions (for DJ302).
* ``sql``     - raw SQL given to ``.query(...)`` classified with sqlglot (tables written and read).
* ``names``   - datajoint's method names and table-name convention (``__clustering__unit``).
* ``source``  - ast nodes of the repository's functions and classes.
* ``cache``   - the on-disk cache of facts per make() (warm runs re-analyse only what changed).

Where facts point: a read or write at the place the table is *named* (a table held by a variable is
reported where the variable got it; a table passed to a helper at the call naming it; a table named in a
helper, mixin or Part method there); a key mismatch at the row's field; a one-shot reuse at the second
consumer; a connection at the call opening it.

Known limits (conservative: no alarm rather than a guess): tables reached through ``getattr`` or dict
lookups with computed keys, parameter defaults that call something (``table=None`` defaults are no
value either), instance attributes of objects built outside the
analysed code, ``Table.populate()`` called from make() (not reported as a write), and one-shot iterables
reused across loop iterations when the loop may end early. Code that is not reached from a make()
(key_source, class bodies and module-level code at import time, scripts, notebooks) is never reported.
"""

from djlint.makeflow.driver import analyze_makes
from djlint.makeflow.facts import (
    Connect,
    KeyMismatch,
    Location,
    MakeFacts,
    OneShotReuse,
    Read,
    UpstreamIndex,
    Write,
)

__all__ = [
    "Connect",
    "KeyMismatch",
    "Location",
    "MakeFacts",
    "OneShotReuse",
    "Read",
    "UpstreamIndex",
    "Write",
    "analyze_makes",
]
