"""Importable test pipelines: worker subprocesses import them by module name (PYTHONPATH=tests/runtime)."""
