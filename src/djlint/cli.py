"""The ``djlint`` command (also ``python -m djlint``).

Exit status: 0 nothing to report (informational DJ001 findings alone count as nothing), 1 violations,
2 usage error, bad configuration or internal error.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import re
import sys
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path

from djlint import __version__
from djlint.baseline import BaselineError, LineReader, filter_new, load_baseline, write_baseline
from djlint.config import Config, ConfigError, check_selectors, find_root, load_config
from djlint.diagnostics import Diagnostic
from djlint.output import (
    FORMATS,
    format_explain,
    format_github,
    format_json,
    format_sarif,
    format_statistics,
    format_text,
    is_informational,
    rule_docs,
)

_PREFIX = re.compile(r"^[A-Z]+[0-9]*$")


class UsageError(Exception):
    """A bad command line; exit status 2."""


def _code_list(value: str) -> tuple[str, ...]:
    codes = tuple(part.strip().upper() for part in value.split(",") if part.strip())
    for code in codes:
        if not _PREFIX.match(code):
            raise argparse.ArgumentTypeError(f"{code!r} is not a code or code prefix (e.g. DJ2, DJ201)")
    return codes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="djlint",
        description="Check that DataJoint make() methods read only their declared upstream and write "
        "only their own table and its Parts. The whole repository is parsed (never imported).",
        epilog="Exit status: 0 clean (informational DJ001 alone is clean), 1 violations, 2 usage or "
        "internal error. Configuration: [tool.dj-provenance] (or [tool.djlint]) in pyproject.toml. "
        "`djlint graph --help`: draw the pipeline's foreign-key graph with its findings.",
    )
    parser.add_argument(
        "paths", nargs="*", metavar="PATH",
        help="files or directories to report on, each judged in the whole repository holding it (default: .)",
    )
    parser.add_argument("--format", choices=FORMATS, default="text", help="report format (default: text)")
    parser.add_argument(
        "--select", type=_code_list, metavar="CODES", help="comma list of code prefixes to report"
    )
    parser.add_argument("--ignore", type=_code_list, metavar="CODES", help="comma list of code prefixes to skip")
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOBS",
        help="comma list of glob patterns of paths to skip, added to [tool.djlint] exclude",
    )
    parser.add_argument("--baseline", type=Path, metavar="FILE", help="report only findings not in FILE")
    parser.add_argument(
        "--write-baseline", type=Path, metavar="FILE", help="record all current findings in FILE and exit 0"
    )
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are violations")
    parser.add_argument("--statistics", action="store_true", help="print the number of findings per code")
    parser.add_argument("--explain", metavar="CODE", help="describe a code, with a bad and a good example")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the result cache")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--isolated",
        action="store_true",
        help="analyse only the given PATHs, as if nothing else existed (names they import from the rest "
        "of the repository are unknown: DJ001, and the checks that need them are skipped)",
    )
    scope.add_argument(
        "--changed",
        action="store_true",
        help="the PATHs are the files a commit changes (the pre-commit hook): report the findings in them "
        "and every finding elsewhere whose cause lies in them (a changed definition, a changed helper)",
    )
    # the old hook entry's flag; judging in the whole repository is now the default
    scope.add_argument("--whole-repo", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("-o", "--output-file", type=Path, metavar="FILE", help="write the report to FILE")
    parser.add_argument("--fix", action="store_true",
                        help="apply the safe fixes (e.g. DJ401's list(...)), then report what remains")
    parser.add_argument("--unsafe-fixes", action="store_true",
                        help="with --fix or --diff, also the fixes that change a table's definition "
                        "(DJ201: add the read table as a secondary foreign key)")
    parser.add_argument("--diff", action="store_true",
                        help="print the fixes as a unified diff instead of applying them (exit 1 when any)")
    parser.add_argument("--add-policy", action="store_true",
                        help="sanction the reported DJ201/DJ301 findings in pyproject.toml's "
                        "[tool.djlint.allow] (the policy strict mode reads too), then report what remains")
    parser.add_argument("--version", action="version", version=f"djlint {__version__}")
    return parser


def _explain(code: str) -> int:
    docs = rule_docs()
    doc = docs.get(code.strip().upper())
    if doc is None:
        known = ", ".join(sorted(docs)) or "none"
        print(f"djlint: error: unknown code {code!r} (known codes: {known})", file=sys.stderr)
        return 2
    sys.stdout.write(format_explain(doc))
    return 0


def load_repository_config(root: Path) -> Config:
    """``load_config`` whose errors name the file they come from."""
    try:
        return load_config(root)
    except ConfigError as error:
        message = str(error)
        if "pyproject.toml" not in message:
            message = f"invalid [tool.djlint] in {root / 'pyproject.toml'}: {message}"
        raise ConfigError(message) from error


def _effective_config(root: Path, options: argparse.Namespace) -> Config:
    config = load_repository_config(root)
    if options.select is not None:
        config = dataclasses.replace(config, select=check_selectors(options.select, "--select"))
    if options.ignore is not None:
        config = dataclasses.replace(config, ignore=check_selectors(options.ignore, "--ignore"))
    extra = tuple(g.strip() for value in options.exclude for g in value.split(",") if g.strip())
    if extra:
        config = dataclasses.replace(config, exclude=tuple(config.exclude) + extra)
    return config


def _within(path: Path, filters: Sequence[Path]) -> bool:
    return any(path == f or f in path.parents for f in filters)


def collect(options: argparse.Namespace, cwd: Path) -> list[Diagnostic]:
    """Analyse as the options say; diagnostics relative to ``cwd``, select/ignore/noqa applied.

    Each PATH is judged in the whole repository holding it (the nearest ``pyproject.toml`` or ``.git``;
    a monorepo may hold several), and the findings in the PATHs are reported: a make() can only be
    judged against all the tables it may read. ``--isolated`` analyses the PATHs alone."""
    from djlint.cache import analyze_cached

    given = [cwd / p for p in (options.paths or ["."])]
    for path in given:
        if not path.exists():
            raise UsageError(f"no such file or directory: {os.path.relpath(path, cwd)}")
    if options.isolated:
        config = _effective_config(find_root(given[0]), options)
        return analyze_cached(given, config, cwd=cwd, use_cache=not options.no_cache)
    by_root: dict[Path, list[Path]] = {}
    for path in given:
        by_root.setdefault(find_root(path), []).append(_located(path))
    found: list[Diagnostic] = []
    for root, filters in by_root.items():
        config = _effective_config(root, options)
        if options.changed:
            found += _changed(root, filters, config, cwd, use_cache=not options.no_cache)
            continue
        diagnostics = analyze_cached([root], config, cwd=cwd, use_cache=not options.no_cache)
        found += [d for d in diagnostics if _within(_located(cwd / d.path), filters)]
    return sorted(set(found))


def _located(path: Path) -> Path:
    """``path`` with its folders resolved but not the file itself: a .py that is a symlink (to /dev/zero,
    to a module elsewhere) is still the file the findings are reported in."""
    path = Path(os.path.abspath(path))
    return Path(os.path.realpath(path.parent)) / path.name


def _changed(root: Path, changed: list[Path], config: Config, cwd: Path, use_cache: bool) -> list[Diagnostic]:
    """The findings of the repository at ``root`` that lie in, or are caused by, the ``changed`` files."""
    from djlint.analysis import analyze
    from djlint.walk import relative_path
    from djlint.causes import caused_by

    result = analyze([root], config, cwd=root, use_cache=use_cache)  # root-relative, with the model
    root = root.resolve()
    names = {relative_path(path, root) for path in changed}
    kept = [d for d in result.diagnostics
            if _within(_located(root / d.path), changed) or caused_by(d, names, result.model)]
    return [d.rebased(lambda path: os.path.relpath(root / path, cwd).replace(os.sep, "/")) for d in kept]


def _render(options: argparse.Namespace, diagnostics: list[Diagnostic], cwd: Path) -> str:
    if options.format == "json":
        return format_json(diagnostics)
    if options.format == "github":
        return format_github(diagnostics)
    if options.format == "sarif":
        reader = LineReader(cwd)
        return format_sarif(diagnostics, rule_docs(), line_text=reader.text, source_root=cwd)
    return format_text(diagnostics)


@contextlib.contextmanager
def _caches_disabled(disabled: bool) -> Iterator[None]:
    """--no-cache: every cache of the analysis (file summaries, make() facts) honours DJLINT_NO_CACHE;
    restored afterwards so that in-process callers are not affected."""
    if not disabled:
        yield
        return
    previous = os.environ.get("DJLINT_NO_CACHE")
    os.environ["DJLINT_NO_CACHE"] = "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["DJLINT_NO_CACHE"]
        else:
            os.environ["DJLINT_NO_CACHE"] = previous


def _show_fixes(diagnostics: list[Diagnostic], cwd: Path, *, unsafe: bool) -> int:
    from djlint import fixes

    planned = fixes.plan(diagnostics, cwd, unsafe=unsafe)
    sys.stdout.write(fixes.diff(planned, cwd))
    return 1 if planned else 0


def _change_repository(options: argparse.Namespace, diagnostics: list[Diagnostic], cwd: Path) -> bool:
    """--fix / --unsafe-fixes / --add-policy: edit the files; True when something was written."""
    changed = False
    if options.fix or options.unsafe_fixes:
        from djlint import fixes

        planned = fixes.plan(diagnostics, cwd, unsafe=options.unsafe_fixes)
        fixed = fixes.write(planned)
        print(f"djlint: fixed {fixed} finding(s) in {len(planned)} file(s)", file=sys.stderr)
        changed = bool(planned)
    if options.add_policy:
        from djlint.policy_edit import add_policy

        pyproject = find_root(cwd / (options.paths or ["."])[0]) / "pyproject.toml"
        if changed:  # the fixes may have removed some findings
            diagnostics = collect(options, cwd)
        try:
            added = add_policy(pyproject, diagnostics)
        except OSError as error:
            raise UsageError(f"cannot write {pyproject}: {error}") from error
        print(f"djlint: sanctioned {added} read(s)/write(s) in {pyproject}", file=sys.stderr)
        changed = changed or added > 0
    return changed


def run(argv: Sequence[str] | None = None) -> int:
    options = build_parser().parse_args(argv)
    if options.explain is not None:
        return _explain(options.explain)
    cwd = Path.cwd()
    if options.baseline is not None:
        load_baseline(options.baseline)  # a bad baseline fails before the analysis, not after
    with _caches_disabled(options.no_cache):
        diagnostics = collect(options, cwd)
        if options.diff:
            return _show_fixes(diagnostics, cwd, unsafe=options.unsafe_fixes)
        if options.fix or options.unsafe_fixes or options.add_policy:
            if _change_repository(options, diagnostics, cwd):
                diagnostics = collect(options, cwd)  # what remains

    if options.write_baseline is not None:
        try:
            written = write_baseline(options.write_baseline, diagnostics, cwd)
        except OSError as error:
            raise UsageError(f"cannot write the baseline {options.write_baseline}: {error}") from error
        print(f"djlint: wrote {written} finding(s) to {options.write_baseline}", file=sys.stderr)
        return 0
    if options.baseline is not None:
        diagnostics, known = filter_new(diagnostics, options.baseline, cwd)
        if known:
            print(f"djlint: {known} finding(s) matched the baseline {options.baseline}", file=sys.stderr)

    report = _render(options, diagnostics, cwd)
    if options.output_file is not None:
        try:
            options.output_file.write_text(report, encoding="utf-8")
        except OSError as error:
            raise UsageError(f"cannot write {options.output_file}: {error}") from error
    else:
        sys.stdout.write(report)
    if options.statistics:
        # keep machine-readable stdout parseable: statistics go to stderr for JSON and SARIF
        stream = sys.stdout if options.format in ("text", "github") and options.output_file is None else sys.stderr
        stream.write(format_statistics(diagnostics))
    failing = any(not is_informational(d.code) for d in diagnostics)
    return 1 if failing and not options.exit_zero else 0


def main(argv: Sequence[str] | None = None) -> int:
    if (sys.argv[1:] if argv is None else list(argv))[:1] == ["graph"]:  # the subcommand (djlint.graph)
        from djlint.graph import main as graph_main

        return graph_main((sys.argv[1:] if argv is None else list(argv))[1:])
    try:
        return run(argv)
    except SystemExit as exit_:  # argparse: --help, --version, usage errors (already printed)
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    except (UsageError, ConfigError, BaselineError) as error:
        print(f"djlint: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("djlint: interrupted", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - a crash must still exit 2 and be reportable
        traceback.print_exc()
        print(f"djlint: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
