"""Analysis of make() bodies: what each make() reads, writes, opens and consumes.

``analyze_makes(model)`` returns the ``MakeFacts`` the DJ2xx-DJ5xx rules turn into diagnostics.
"""

from djlint.makeflow.driver import analyze_makes
from djlint.makeflow.facts import (
    Connect, KeyMismatch, Location, MakeFacts, OneShotReuse, Read, UpstreamIndex, Write,
)

__all__ = [
    "analyze_makes", "MakeFacts", "Location", "Read", "Write", "UpstreamIndex", "KeyMismatch", "OneShotReuse",
    "Connect",
]
