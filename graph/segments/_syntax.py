"""The segment expression language: tokens, syntax tree and a recursive-descent parser.

The grammar (``docs/segments.md`` has it with examples)::

    segment    := or_expr EOF
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | atom
    atom       := "(" or_expr ")" | tag | comparison
    tag        := "tag" ":" (TAGNAME | STRING)
    comparison := operand ( CMP operand
                          | ["not"] "in" "(" literal ("," literal)* ")" )
    operand    := literal | field | call
    literal    := NUMBER | "-" NUMBER | STRING | "true" | "false"
    field      := NAME ("." NAME)*
    call       := NAME "(" [["last"] DURATION] ")"
    DURATION   := NUMBER ("h" | "d" | "w")
    CMP        := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="

``not`` binds tighter than ``and``, which binds tighter than ``or``; keywords are
case-insensitive. Strings are quoted with ``'`` or ``"``; the quote is doubled
inside (``'it''s'``). Nothing in an expression is ever executed or spliced into
SQL: the parser builds the tree below, and :mod:`graph.segments._compile` checks and
evaluates it over arrays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graph.errors import SegmentError

__all__ = [
    "Token",
    "tokenize",
    "Literal",
    "Field",
    "Call",
    "Compare",
    "InList",
    "Tag",
    "Not",
    "And",
    "Or",
    "Node",
    "Operand",
    "parse",
    "segment_error",
    "MAX_LENGTH",
    "MAX_DEPTH",
]

#: Longest expression accepted (characters), and deepest nesting of the tree.
MAX_LENGTH = 10_000
MAX_DEPTH = 64

_KEYWORDS = frozenset({"and", "or", "not", "in", "tag", "last", "true", "false"})
_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<duration>\d+(?:\.\d+)?[hdw](?![A-Za-z0-9_.]))
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![A-Za-z0-9_.]))
  | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|==|!=|<>|[=<>(),.:\-])
    """,
    re.VERBOSE,
)
_TAGNAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_BAD_NUMBER_RE = re.compile(r"\d[A-Za-z0-9_.]*")
_UNITS_US = {"h": 3_600_000_000, "d": 86_400_000_000, "w": 7 * 86_400_000_000}


@dataclass(frozen=True)
class Token:
    """One token: ``kind`` (``number``, ``duration``, ``string``, ``name``, ``keyword``,
    ``tagname``, ``op``, ``end``), its ``text`` and ``pos`` (0-based offset in the expression)."""

    kind: str
    text: str
    pos: int


def segment_error(expression: str, pos: int, message: str, token: str = "") -> SegmentError:
    """A :class:`SegmentError` pointing at ``pos`` with a caret line under the expression."""
    line = expression.replace("\n", " ").replace("\t", " ")
    caret = f"{line}\n{' ' * pos}^"
    return SegmentError(
        f"{message} (at position {pos}):\n{caret}",
        expression=expression,
        position=pos,
        token=token,
        caret=caret,
    )


def tokenize(expression: str) -> list[Token]:
    """Split ``expression`` into tokens (whitespace dropped, an ``end`` token appended).

    Raises
    ------
    SegmentError
        At the first character that starts no token, or an unterminated string.
    """
    if len(expression) > MAX_LENGTH:
        raise segment_error(
            expression[:80], 0, f"The expression is longer than {MAX_LENGTH} characters"
        )
    out: list[Token] = []
    pos = 0
    while pos < len(expression):
        after_tag = len(out) >= 2 and out[-2].text == "tag" and out[-1].text == ":"
        m = _TAGNAME_RE.match(expression, pos) if after_tag else None
        if m is not None:  # tag:NAME, where NAME may hold '.', '-' and start with a digit
            out.append(Token("tagname", m.group(), pos))
            pos = m.end()
            continue
        m = _TOKEN_RE.match(expression, pos)
        if m is None:
            bad = _BAD_NUMBER_RE.match(expression, pos)
            if bad is not None:
                raise segment_error(
                    expression,
                    pos,
                    f"Cannot read {bad.group()!r}: a number, or a window such as 30d, 12h or 4w",
                    bad.group(),
                )
            ch = expression[pos]
            what = "an unterminated string" if ch in "'\"" else f"unexpected character {ch!r}"
            raise segment_error(expression, pos, f"Cannot read the expression: {what}", ch)
        kind = m.lastgroup or "op"
        text = m.group()
        if kind == "name" and text.lower() in _KEYWORDS:
            kind, text = "keyword", text.lower()
        if kind != "ws":
            out.append(Token(kind, text, pos))
        pos = m.end()
    out.append(Token("end", "", len(expression)))
    return out


# --- the tree ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    """A number, string or boolean constant."""

    value: float | str | bool
    pos: int
    #: written without quotes (``role = consumer``): a word, not a field
    bare: bool = False


@dataclass(frozen=True)
class Field:
    """A per-user value of the run: ``role``, ``score``, ``conversion.attributed_gmv``..."""

    name: str
    pos: int


@dataclass(frozen=True)
class Call:
    """A windowed fact: ``forwards(30d)``; ``window_us`` None means the whole history."""

    name: str
    window_us: int | None
    window_text: str
    pos: int


Operand = Literal | Field | Call


@dataclass(frozen=True)
class Compare:
    """``left op right`` with ``op`` one of ``= != < <= > >=``."""

    op: str
    left: Operand
    right: Operand
    pos: int


@dataclass(frozen=True)
class InList:
    """``operand in (v1, v2, ...)``, or ``not in`` when ``negated``."""

    operand: Operand
    values: tuple[Literal, ...]
    negated: bool
    pos: int


@dataclass(frozen=True)
class Tag:
    """``tag:NAME``: whether the user carries the tag."""

    name: str
    pos: int


@dataclass(frozen=True)
class Not:
    operand: Node
    pos: int


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]
    pos: int


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]
    pos: int


Node = Compare | InList | Tag | Not | And | Or

_CMP = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class _Parser:
    def __init__(self, expression: str) -> None:
        self.text = expression
        self.tokens = tokenize(expression)
        self.i = 0
        self.depth = 0

    # helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def _error(self, message: str, tok: Token | None = None) -> SegmentError:
        tok = tok or self.tok
        found = "the end of the expression" if tok.kind == "end" else repr(tok.text)
        return segment_error(self.text, tok.pos, f"{message}, found {found}", tok.text)

    def _is(self, kind: str, text: str | None = None) -> bool:
        t = self.tok
        return t.kind == kind and (text is None or t.text == text)

    def _take(self) -> Token:
        t = self.tok
        self.i += 1
        return t

    def _expect(self, kind: str, text: str, what: str) -> Token:
        if not self._is(kind, text):
            raise self._error(f"Expected {what}")
        return self._take()

    # grammar
    def segment(self) -> Node:
        if self._is("end"):
            raise self._error("The expression is empty: expected a condition")
        node = self.or_expr()
        if not self._is("end"):
            raise self._error("Expected 'and', 'or' or the end of the expression")
        return node

    def or_expr(self) -> Node:
        first = self.tok.pos
        parts = [self.and_expr()]
        while self._is("keyword", "or"):
            self._take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Or(tuple(parts), first)

    def and_expr(self) -> Node:
        first = self.tok.pos
        parts = [self.not_expr()]
        while self._is("keyword", "and"):
            self._take()
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else And(tuple(parts), first)

    def not_expr(self) -> Node:
        if self._is("keyword", "not"):
            t = self._take()
            self._enter(t)
            try:
                return Not(self.not_expr(), t.pos)
            finally:
                self.depth -= 1
        return self.atom()

    def _enter(self, t: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise segment_error(
                self.text, t.pos, f"The expression nests deeper than {MAX_DEPTH} levels", t.text
            )

    def atom(self) -> Node:
        if self._is("op", "("):
            t = self._take()
            self._enter(t)
            try:
                node = self.or_expr()
            finally:
                self.depth -= 1
            self._expect("op", ")", "')' to close the '(' at position " + str(t.pos))
            return node
        if self._is("keyword", "tag"):
            return self.tag()
        return self.comparison()

    def tag(self) -> Tag:
        t = self._take()
        self._expect("op", ":", "':' after 'tag' (write tag:NAME)")
        nxt = self.tok
        if nxt.kind not in ("string", "tagname"):
            raise self._error("Expected a tag name after 'tag:' (quote it if it holds spaces)")
        self._take()
        return Tag(_unquote(nxt.text) if nxt.kind == "string" else nxt.text, t.pos)

    def comparison(self) -> Node:
        start = self.tok
        left = self.operand()
        if self._is("keyword", "not") or self._is("keyword", "in"):
            negated = bool(self._is("keyword", "not") and self._take())
            self._expect("keyword", "in", "'in' after 'not' (write: x not in (...))")
            self._expect("op", "(", "'(' to open the list of values")
            values = [self.literal()]
            while self._is("op", ","):
                self._take()
                values.append(self.literal())
            self._expect("op", ")", "',' or ')' in the list of values")
            return InList(left, tuple(values), negated, start.pos)
        if self.tok.kind == "op" and self.tok.text in _CMP:
            op = _CMP[self._take().text]
            right = self.operand()
            return Compare(op, left, right, start.pos)
        if isinstance(left, Literal) and isinstance(left.value, bool):
            return Compare("=", left, Literal(True, left.pos), start.pos)
        raise self._error(
            "Expected a comparison (=, !=, <, <=, >, >=) or 'in (...)' after "
            f"{start.text!r}; a condition compares a value"
        )

    def operand(self) -> Operand:
        t = self.tok
        if t.kind in ("number", "string") or self._is("op", "-") or t.text in ("true", "false"):
            return self.literal()
        if t.kind == "name":
            self._take()
            if self._is("op", "("):
                return self.call(t)
            name = t.text
            while self._is("op", "."):
                self._take()
                part = self.tok
                if part.kind not in ("name", "keyword"):
                    raise self._error("Expected a name after '.'")
                self._take()
                name += "." + part.text
            return Field(name, t.pos)
        if t.kind == "duration":
            raise self._error("A duration such as 30d goes inside a call, e.g. forwards(30d)")
        raise self._error("Expected a condition: a field, a fact such as forwards(30d), or a value")

    def call(self, name: Token) -> Call:
        self._take()  # (
        window_us: int | None = None
        text = ""
        if self._is("keyword", "last"):
            self._take()
            if not self._is("duration"):
                raise self._error("Expected a duration after 'last', such as 30d, 12h or 4w")
        if self._is("duration"):
            d = self._take()
            window_us = int(round(float(d.text[:-1]) * _UNITS_US[d.text[-1]]))
            text = d.text
            if window_us <= 0:
                raise segment_error(self.text, d.pos, "A window must be longer than 0", d.text)
        elif not self._is("op", ")"):
            raise self._error(
                f"Expected a window such as 30d, 12h or 4w (or nothing) in {name.text}(...)"
            )
        self._expect("op", ")", f"')' to close {name.text}(")
        return Call(name.text, window_us, text, name.pos)

    def literal(self) -> Literal:
        t = self.tok
        if t.kind == "name":  # a bare word in a list: role in (consumer, kol)
            self._take()
            return Literal(t.text, t.pos, bare=True)
        if t.kind == "string":
            self._take()
            return Literal(_unquote(t.text), t.pos)
        if t.kind == "keyword" and t.text in ("true", "false"):
            self._take()
            return Literal(t.text == "true", t.pos)
        sign = 1.0
        if self._is("op", "-"):
            self._take()
            sign = -1.0
        if self.tok.kind != "number":
            raise self._error("Expected a number or a quoted string")
        return Literal(sign * float(self._take().text), t.pos)


def _unquote(text: str) -> str:
    q = text[0]
    return text[1:-1].replace(q + q, q)


def parse(expression: str) -> Node:
    """Parse a segment expression into its syntax tree.

    Parameters
    ----------
    expression : str

    Returns
    -------
    Node
        ``Or`` / ``And`` (flattened: ``a and b and c`` is one ``And`` of three),
        ``Not``, ``Tag``, ``Compare`` or ``InList``.

    Raises
    ------
    SegmentError
        With the position of the offending token and a caret line.
    """
    return _Parser(expression).segment()
