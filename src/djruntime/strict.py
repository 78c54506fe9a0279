"""Placeholder: the strict provenance gate lands here (issue 7)."""


def configure(*, strict_provenance=None, policy=None) -> None:
    pass
