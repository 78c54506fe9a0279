"""Exceptions raised by djruntime."""

from __future__ import annotations

import datajoint as dj


class ProvenanceError(dj.DataJointError):
    """A make() read or wrote outside its allowed set, or wrote a row inconsistent with its key.

    Raised before the offending statement reaches the server, so the engine's rollback leaves the
    database exactly as it was.
    """
