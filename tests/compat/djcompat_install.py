"""pytest plugin of the compatibility harness: ``djruntime.install()`` before any test runs.

Loaded with ``-p djcompat_install`` in the djruntime pass, it does exactly what a user's own code does:
one ``djruntime.install()`` at start-up, strict provenance as the environment says (the harness sets
``DJ_STRICT_PROVENANCE=0``), djruntime's default settings otherwise.
"""

from __future__ import annotations

import pytest

import djruntime


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    djruntime.install()
