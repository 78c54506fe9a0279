"""Placeholder: the job/populate engine lands here (issue 6)."""


def install_engine() -> None:
    raise NotImplementedError


def uninstall_engine() -> None:
    pass


def populate(table, *restrictions, **options):
    raise NotImplementedError
