"""``PopulateOptions``: the options of one ``populate()`` call, as one value.

``populate(table, *restrictions, **options)`` keeps datajoint 2.3.5's signature; inside the engine the
keyword arguments travel as one frozen ``PopulateOptions`` (from ``populate`` to the claim loop, the
direct loop and the pool, which hands each child a changed copy via ``dataclasses.replace``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PopulateOptions:
    """datajoint's populate() keyword arguments, with datajoint's defaults."""

    suppress_errors: bool = False
    return_exception_objects: bool = False
    reserve_jobs: bool = False
    max_calls: int | None = None
    display_progress: bool = False
    processes: int = 1
    make_kwargs: dict[str, Any] | None = None
    priority: int | None = None
    refresh: bool | None = None  # None: ``dj.config.jobs.auto_refresh``
