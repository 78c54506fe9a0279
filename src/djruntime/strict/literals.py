"""The statement as text: its shape, its literals and its placeholders, read without parsing.

* :func:`shape_of`: a read with its literals masked, the key of the classifier's shape cache (two
  statements of one shape read the same tables);
* :func:`parameterize`: the literals of the exact text the server receives lifted into arguments, so
  statements differing only by values share one parse;
* :func:`called_names`: the words written before "(" (functions a statement may call);
* :func:`to_named` / :func:`to_driver`: driver placeholders to sqlglot's named ones and back.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from .statement import ArgKey

_DRIVER_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")

# The shape of a read: quoted identifiers are kept, each string literal is reduced to its opening
# quote, numbers and ``%s`` arguments are dropped; keywords and unquoted names are untouched (a digit
# inside a name is never taken for a number). Identifiers and keywords survive verbatim and in order,
# so two statements of one shape read the same tables. Constructs whose lexing could differ from the
# server's (comments; PostgreSQL dollar quoting, escape strings) are found on the shape, which is then
# not used: the statement is parsed exactly.
_MYSQL_SHAPE = re.compile(
    r"""`(?:[^`]|``)*`|'(?:[^'\\]|\\.|'')*'"""
    r'''|"(?:[^"\\]|\\.|"")*"'''
    r"""|(?<![\w$.`])(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)(?![\w$])|%\(\w+\)s|%s""",
    re.DOTALL,
)
_POSTGRES_SHAPE = re.compile(
    r"""\"(?:[^"]|"")*"|'(?:[^']|'')*'"""
    r"""|(?<![\w$."])(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)(?![\w$])|%\(\w+\)s|%s""",
    re.DOTALL,
)


# datajoint names each subquery with a fresh alias (`$1f`, "_aggr3") from a global counter; the same
# query shape must not become a new shape per alias. Only an alias standing alone (no "." on either
# side, so not a schema or table name) is normalised.
_SUBQUERY_ALIAS = re.compile(r"[`\"](?:\$[0-9a-f]+|_aggr\d+)[`\"]")


def _alias(text: str, match: re.Match) -> str:
    if _SUBQUERY_ALIAS.fullmatch(text):
        string, start, end = match.string, match.start(), match.end()
        if (start == 0 or string[start - 1] != ".") and (end == len(string) or string[end] != "."):
            return text[0] + "$" + text[0]
    return text


def _mysql_piece(match: re.Match) -> str:
    text = match.group(0)
    first = text[0]
    if first == "`":
        return _alias(text, match) if len(text) > 2 and text[1] in "$_" else text
    return first if first in "'\"" else ""


def _postgres_piece(match: re.Match) -> str:
    text = match.group(0)
    first = text[0]
    if first == '"':
        return _alias(text, match) if len(text) > 2 and text[1] in "$_" else text
    return first if first == "'" else ""


_MYSQL_COMMENT = re.compile(r"--|/\*|(?:`[^`]*`|[^`#])*+#")
_POSTGRES_UNSAFE = re.compile(r"--|/\*|[\w&]'")
_POSTGRES_DOLLAR = re.compile(r'(?:"[^"]*"|[^"$])*+\$')  # a $ outside "quoted names": $$…$$, $1


_SPACED_DOT = re.compile(r"\s\.|\.\s")


def shape_of(sql: str, dialect: str) -> str | None:
    """The statement with its literals reduced (the shape-cache key), or None: parse it exactly.
    A qualified name written with spaces (`db` . `t`, db . 2e5) is never shaped: a dropped number could be
    a name, and two tables would share one entry."""
    postgres = dialect == "postgres"
    quote = '"' if postgres else "`"
    if "'" not in sql and (postgres or '"' not in sql) and quote * 2 not in sql and "\0" not in sql:
        pieces = sql.split(quote)
        if len(pieces) % 2:  # balanced quotes
            return _plain_shape(sql, pieces, quote, postgres)
    return _regex_shape(sql, postgres)


def _regex_shape(sql: str, postgres: bool) -> str | None:
    """The general path of :func:`shape_of` (any statement)."""
    if postgres:
        shape = _POSTGRES_SHAPE.sub(_postgres_piece, sql)
        return None if (_POSTGRES_UNSAFE.search(shape) or _POSTGRES_DOLLAR.match(shape)
                        or _SPACED_DOT.search(shape)) else shape
    shape = _MYSQL_SHAPE.sub(_mysql_piece, sql)
    return None if _MYSQL_COMMENT.match(shape) or "--" in shape or "/*" in shape or _SPACED_DOT.search(shape) else shape


# What datajoint sends for numeric keys has no string literal and no doubled quote in a name. Split at
# the identifier quote, such a statement alternates text outside names (even pieces) and names (odd
# pieces), so the regex runs on the outside text only, where it finds just the numbers and ``%s`` to
# drop (NUL joins the pieces: it stands for a name next to a number). The result equals the regex
# shape above at a fraction of its cost, which is a Python call per quoted name.
# (The look-behind follows the first character, so the regex engine skips to digits, dots and %.)
_PLAIN_LITERAL = re.compile(
    r"\d(?<![\w$.\0]\d)\d*\.?\d*(?:[eE][+-]?\d+)?(?![\w$])|\.(?<![\w$.\0]\.)\d+(?![\w$])|%\(\w+\)s|%s"
)
_ALIAS_NAME = re.compile(r"\$[0-9a-f]+|_aggr\d+")


def _plain_shape(text: str, pieces: list[str], quote: str, postgres: bool) -> str | None:
    outside = _PLAIN_LITERAL.sub("", "\0".join(pieces[0::2]))
    if "$" in outside if postgres else "#" in outside:  # PostgreSQL $$…$$ or $1; a MySQL # comment
        return None
    aliases = []  # fresh subquery aliases standing alone, as _alias() finds them
    if quote + "$" in text or quote + "_aggr" in text:
        aliases = [index for index in range(1, len(pieces), 2) if _ALIAS_NAME.fullmatch(pieces[index])
                   and not pieces[index - 1].endswith(".") and not pieces[index + 1].startswith(".")]
    pieces[0::2] = outside.split("\0")
    for index in aliases:
        pieces[index] = "$"
    shape = quote.join(pieces)
    return None if "--" in shape or "/*" in shape or _SPACED_DOT.search(shape) else shape


def to_named(sql: str) -> str:
    """Driver placeholders -> sqlglot named placeholders (``:_p0``, ``:_k_name``); ``%%`` -> ``%``."""
    counter = iter(range(1 << 30))

    def replace(match: re.Match) -> str:
        if match.group(0) == "%%":
            return "%"
        if match.group(1):
            return f":_k_{match.group(1)}"
        return f":_p{next(counter)}"

    return _DRIVER_PLACEHOLDER.sub(replace, sql)


def to_driver(generated: str) -> tuple[str, tuple[ArgKey, ...]]:
    """sqlglot output with named placeholders -> driver SQL with ``%s`` and the argument keys in order."""
    keys: list[ArgKey] = []
    escaped = generated.replace("%", "%%")

    def replace(match: re.Match) -> str:
        kind = match.group(1) or match.group(3)
        name = match.group(2) or match.group(4)
        keys.append(int(name) if kind == "p" else name)
        return "%s"

    pattern = re.compile(r":_([pk])_?(\w+?)\b|%%\(_([pk])_?(\w+?)\)s")
    return pattern.sub(replace, escaped), tuple(keys)


# ---------------------------------------------------------------- the statement as the server receives it
# The gate classifies the text the driver produced (its own escaping applied to the arguments) and sends
# exactly that text. To keep one parse per statement *form*, that text's literals are lifted back out:
# each string, hex string and number becomes a ``%s`` and its decoded value an argument, with the server's
# lexing (MySQL: backslash escapes and doubled quotes; PostgreSQL: standard-conforming strings). Anything
# this lexer does not read plainly (comments, introducers such as _binary'…' or E'…', $-quoting) is not
# lifted: the exact text is parsed.
_MYSQL_LEXEME = re.compile(
    r"""(?P<name>`(?:[^`]|``)*`)|(?P<hex>(?<![\w$])[xX]'[0-9a-fA-F]*')|(?P<str>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")"""
    r"""|(?P<num>(?<![\w$.])(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)(?![\w$.]))|(?P<pct>%)""",
    re.DOTALL,
)
_POSTGRES_LEXEME = re.compile(
    r"""(?P<name>"(?:[^"]|"")*")|(?P<str>'(?:[^']|'')*')"""
    r"""|(?P<num>(?<![\w$.])(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+)(?![\w$.]))|(?P<pct>%)""",
    re.DOTALL,
)
_MYSQL_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a", "%": "\\%", "_": "\\_"}
_MYSQL_ESCAPE = re.compile(r"\\(.)|''|\"\"", re.DOTALL)


def _mysql_string(body: str) -> str:
    return _MYSQL_ESCAPE.sub(lambda m: _MYSQL_ESCAPES.get(m.group(1), m.group(1)) if m.group(1) is not None
                             else m.group(0)[0], body)


def _beside(text: str, index: int, step: int) -> str:
    """The first character at ``index`` or beyond (in direction ``step``) that is not white space."""
    while 0 <= index < len(text) and text[index].isspace():
        index += step
    return text[index] if 0 <= index < len(text) else ""


def parameterize(text: str, dialect: str) -> tuple[str, tuple] | None:
    """(``text`` with its literals as ``%s`` and every other ``%`` doubled, the literals' values), or None
    when ``text`` holds something this lexer does not read plainly (then parse ``text`` itself)."""
    postgres = dialect == "postgres"
    values: list[Any] = []
    pieces: list[str] = []
    position = 0
    pattern = _POSTGRES_LEXEME if postgres else _MYSQL_LEXEME
    for match in pattern.finditer(text):
        kind = match.lastgroup
        start = match.start()
        pieces.append(text[position:start])
        position = match.end()
        body = match.group(0)
        if kind == "name":
            pieces.append(body)
        elif kind == "pct":
            pieces.append("%%")
        elif kind == "num":
            if _beside(text, start - 1, -1) == "." or _beside(text, position, 1) == ".":
                return None  # `db` . 2e5: a name after a spaced dot, not a number
            values.append(int(body) if body.isdigit() else Decimal(body))
            pieces.append("%s")
        elif kind == "hex":
            values.append(bytes.fromhex(body[2:-1]))
            pieces.append("%s")
        else:
            if start and (text[start - 1].isalnum() or text[start - 1] in "_$&"):
                return None  # an introducer or prefix: _binary'…', N'…', E'…', U&'…'
            values.append(body[1:-1].replace("''", "'") if postgres else _mysql_string(body[1:-1]))
            pieces.append("%s")
    pieces.append(text[position:])
    template = "".join(pieces)
    if not ("--" in template or "/*" in template or any(c in template for c in "'\"\\#$")):
        return template, tuple(values)  # nothing outside the lifted literals needs a second look
    outside = _MYSQL_LEXEME.sub("", template) if not postgres else _POSTGRES_LEXEME.sub("", template)
    if "--" in outside or "/*" in outside or (("$" in outside) if postgres else ("#" in outside)):
        return None
    if "'" in outside or (not postgres and '"' in outside) or "\\" in outside:
        return None  # an unbalanced quote: not a plain statement
    return template, tuple(values)


_NOT_CALLS = frozenset("""
    and or not in values exists select where from on using as when then else is by join any all some key
    primary lateral into table set case distinct union except intersect limit offset over filter within having
    group order with recursive returning update delete insert replace row array like between if
    """.split())  # noqa: SIM905


def called_names(template: str) -> frozenset[str]:
    """Lower-case words written before "(" (functions a statement may call)."""
    names = set()
    for piece in template.split("(")[:-1]:
        piece = piece.rstrip()
        end = start = len(piece)
        while start and (piece[start - 1].isalnum() or piece[start - 1] in "_$"):
            start -= 1
        if start < end and not piece[start].isdigit():
            name = piece[start:end].lower()
            if name not in _NOT_CALLS:
                names.add(name)
    return frozenset(names)
