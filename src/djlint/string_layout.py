"""Where each line of a string literal's value physically sits in the source file (a ``definition``
string, possibly concatenated from several literals), so that a definition's lines are reported at
their own line and column.
"""

from __future__ import annotations

import ast
import io
import tokenize
from typing import Any


class _Token:
    """The two fields of a tokenize token that the layout needs."""

    __slots__ = ("string", "start")

    def __init__(self, string: str, start: tuple[int, int]) -> None:
        self.string = string
        self.start = start


def _string_tokens(fragment: str) -> list[Any]:
    """The STRING tokens of ``fragment`` (the source of one string expression). The common case — one
    literal, no implicit concatenation — is recognised without running the (slow, pure-Python) tokenizer."""
    body = fragment.lstrip("rRuU")
    prefix = len(fragment) - len(body)
    for quote in ('"""', "'''", '"', "'"):
        if body.startswith(quote):
            inner = body[len(quote) : -len(quote)] if len(body) >= 2 * len(quote) else None
            if (
                inner is not None
                and body.endswith(quote)
                and quote not in inner
                and "\\" not in inner
                and (len(quote) == 3 or "\n" not in inner)
                and prefix <= 1
            ):
                return [_Token(fragment, (1, 1))]
            break
    return [
        t
        for t in tokenize.generate_tokens(io.StringIO("(" + fragment + ")").readline)
        if t.type == tokenize.STRING
    ]


def _string_value(token: str) -> Any:
    body = token.lstrip("rRuU")
    if len(token) - len(body) <= 1 and "\\" not in body:
        for quote in ('"""', "'''", '"', "'"):
            if body.startswith(quote) and body.endswith(quote) and len(body) >= 2 * len(quote):
                return body[len(quote) : -len(quote)]
    return ast.literal_eval(token)


class StringLayout:
    """Physical positions of the characters of a string literal (possibly concatenated)."""

    def __init__(self, source_lines: list[str]) -> None:
        self.source_lines = source_lines

    def layout(self, node: ast.expr) -> tuple[str, list[int], list[int]] | None:
        """(value, line of each value line, column of each value line), or None when unreadable."""
        start, end = node.lineno, node.end_lineno or node.lineno
        try:
            first = self.source_lines[start - 1]
            start_col = len(first.encode("utf-8")[: node.col_offset].decode("utf-8", "replace"))
            last = self.source_lines[end - 1]
            end_col = len(last.encode("utf-8")[: node.end_col_offset or 0].decode("utf-8", "replace"))
            if start == end:
                fragment = first[start_col:end_col]
            else:
                middle = self.source_lines[start : end - 1]
                fragment = first[start_col:] + "".join(middle) + last[:end_col]
            tokens = _string_tokens(fragment)
        except (tokenize.TokenError, SyntaxError, IndexError, ValueError):
            return None
        value_parts: list[str] = []
        lines: list[int] = []
        columns: list[int] = []
        started = False
        for token in tokens:
            try:
                value = _string_value(token.string)
            except (SyntaxError, ValueError, MemoryError, RecursionError):
                return None
            if not isinstance(value, str):
                return None
            row = start + token.start[0] - 1
            col = token.start[1] + (start_col - 1 if token.start[0] == 1 else 0)
            prefix = len(token.string) - len(token.string.lstrip("rRbBuUfF"))
            quote = 3 if token.string[prefix : prefix + 3] in ('"""', "'''") else 1
            raw_newlines = token.string.count("\n")
            segments = value.split("\n")
            one_to_one = raw_newlines == len(segments) - 1
            for j, segment in enumerate(segments):
                if j > 0:
                    value_parts.append("\n")
                    started = False
                    lines.append(0)
                    columns.append(1)
                elif not lines:
                    lines.append(0)
                    columns.append(1)
                value_parts.append(segment)
                if not started and segment.strip():
                    started = True
                    physical = row + j if one_to_one else row
                    column = col + 1 + prefix + quote if j == 0 else 1
                    column += len(segment) - len(segment.lstrip())
                    lines[-1] = physical
                    columns[-1] = column
        for index, line in enumerate(lines):
            if line == 0:
                lines[index] = lines[index - 1] if index else start
        return "".join(value_parts), lines, columns
