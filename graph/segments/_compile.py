"""Check a segment's syntax tree against what a run offers, and evaluate it over arrays.

:func:`compile_segment` resolves every name of the tree against a :class:`Catalog`
(numeric fields, text fields, windowed facts, tags), checks the types (a text field
compares with text and only with ``=`` / ``!=`` / ``in``; a number with numbers), and
returns a :class:`CompiledSegment`. Its :meth:`~CompiledSegment.evaluate` takes a
:class:`Frame` (the run's per-user arrays) and returns a boolean numpy mask, one
vectorised operation per condition: no Python loop over users, no ``eval``, no SQL.

Missing values
--------------
A condition on a missing value (a user with no community, a text field without a
value) is false, whatever the operator, ``!=`` and ``not in`` included; ``not (...)``
is plain negation of the result. So ``community != 3`` keeps users of other
communities, and ``not community = 3`` also keeps users with none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from graph.errors import SegmentError
from graph.segments._syntax import (
    And,
    Call,
    Compare,
    Field,
    InList,
    Literal,
    Node,
    Not,
    Operand,
    Or,
    Tag,
    parse,
    segment_error,
)

__all__ = ["Catalog", "Frame", "CompiledSegment", "compile_segment", "to_text", "references"]


class Frame(Protocol):
    """The per-user arrays of one run that a segment is evaluated over.

    Every array has :attr:`size` elements, one per user of the run, in the run's order.
    """

    @property
    def size(self) -> int: ...

    def number(self, name: str) -> np.ndarray:
        """float64 values of a numeric field (NaN where missing)."""
        ...

    def text(self, name: str) -> tuple[np.ndarray, tuple[str, ...]]:
        """A text field as (int codes, -1 where missing; the categories)."""
        ...

    def fact(self, name: str, window_us: int | None) -> np.ndarray:
        """float64 values of a windowed fact over the last ``window_us`` microseconds
        before the run's end (None: the whole history up to it)."""
        ...

    def tag(self, name: str) -> np.ndarray:
        """bool: whether each user carries the tag (all False for a tag nobody has)."""
        ...


@dataclass(frozen=True)
class Catalog:
    """What a segment may name.

    Attributes
    ----------
    numbers, texts : frozenset of str
        Numeric and text fields (``score``, ``community``; ``role``, ``stage``).
    facts : frozenset of str
        Windowed facts, called as ``name(30d)`` or ``name()``.
    tags : frozenset of str or None
        Tags known now; None accepts any tag name (evaluated as nobody when absent).
    tag_prefixes : frozenset of str
        Tag families accepted with any suffix (``stage.`` accepts ``stage.loyal``).
    """

    numbers: frozenset[str]
    texts: frozenset[str]
    facts: frozenset[str]
    tags: frozenset[str] | None = None
    #: tag families accepted with any suffix (``stage.`` accepts ``stage.loyal``)
    tag_prefixes: frozenset[str] = frozenset()

    def fields(self) -> list[str]:
        return sorted(self.numbers | self.texts)


Mask = Callable[[Frame], np.ndarray]
_NUM_OPS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "=": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


@dataclass(frozen=True)
class CompiledSegment:
    """A checked segment: its tree, canonical text and evaluator."""

    expression: str
    tree: Node
    _mask: Mask

    @property
    def text(self) -> str:
        """The canonical form of the expression (what :func:`to_text` writes)."""
        return to_text(self.tree)

    def evaluate(self, frame: Frame) -> np.ndarray:
        """Boolean mask over the frame's users: who is in the segment."""
        out = np.asarray(self._mask(frame), dtype=bool)
        if out.shape != (frame.size,):  # a constant condition: broadcast it
            out = np.broadcast_to(out, (frame.size,)).copy()
        return out


class _Compiler:
    def __init__(self, expression: str, catalog: Catalog) -> None:
        self.text = expression
        self.catalog = catalog

    def error(self, pos: int, message: str, token: str = "") -> SegmentError:
        return segment_error(self.text, pos, message, token)

    def node(self, node: Node) -> Mask:
        if isinstance(node, And | Or):
            parts = [self.node(p) for p in node.operands]
            combine = np.logical_and if isinstance(node, And) else np.logical_or

            def both(frame: Frame) -> np.ndarray:
                out = parts[0](frame)
                for p in parts[1:]:
                    out = combine(out, p(frame))
                return out

            return both
        if isinstance(node, Not):
            inner = self.node(node.operand)
            return lambda frame: np.logical_not(inner(frame))
        if isinstance(node, Tag):
            return self.tag(node)
        if isinstance(node, InList):
            return self.in_list(node)
        return self.compare(node)

    def tag(self, node: Tag) -> Mask:
        known = self.catalog.tags
        family = any(node.name.startswith(p) for p in self.catalog.tag_prefixes)
        if known is not None and node.name not in known and not family:
            hint = ", ".join(sorted(known)[:12]) or "none yet"
            raise self.error(
                node.pos,
                f"Unknown tag {node.name!r}; known tags: {hint}. Import user tags with "
                "`koc tags import` first",
                node.name,
            )
        name = node.name
        return lambda frame: frame.tag(name)

    def kind(self, op: Operand, other: Operand | None = None) -> str:
        """``number``, ``text`` or ``bool`` (literals) of an operand; raises for unknown names."""
        if isinstance(op, Literal):
            if isinstance(op.value, bool):
                return "number"
            return "text" if isinstance(op.value, str) else "number"
        if isinstance(op, Call):
            if op.name not in self.catalog.facts:
                raise self.error(
                    op.pos,
                    f"Unknown fact {op.name}(...); facts: "
                    + ", ".join(f"{f}(30d)" for f in sorted(self.catalog.facts)),
                    op.name,
                )
            return "number"
        if op.name in self.catalog.numbers:
            return "number"
        if op.name in self.catalog.texts:
            return "text"
        if op.name in self.catalog.facts:
            raise self.error(
                op.pos, f"{op.name} is a fact over a window: write {op.name}(30d) or {op.name}()"
            )
        raise self.error(
            op.pos,
            f"Unknown field {op.name!r}; fields: {', '.join(self.catalog.fields())}; quote a "
            "text value ('...')",
            op.name,
        )

    def operand(self, op: Operand) -> Callable[[Frame], np.ndarray]:
        if isinstance(op, Literal):
            value = np.array(float(op.value))  # bools and numbers (texts never get here)
            return lambda frame: value
        if isinstance(op, Call):
            name, window = op.name, op.window_us
            return lambda frame: frame.fact(name, window)
        name = op.name
        return lambda frame: frame.number(name)

    def _bare_as_text(self, op: Operand, other: Operand) -> Operand:
        """``role = consumer``: a bare unknown word beside a text field is a text value."""
        if (
            isinstance(op, Field)
            and "." not in op.name
            and op.name not in self.catalog.numbers
            and op.name not in self.catalog.texts
            and op.name not in self.catalog.facts
            and isinstance(other, Field)
            and other.name in self.catalog.texts
        ):
            return Literal(op.name, op.pos, bare=True)
        return op

    def compare(self, node: Compare) -> Mask:
        left = self._bare_as_text(node.left, node.right)
        right = self._bare_as_text(node.right, node.left)
        kinds = (self.kind(left), self.kind(right))
        if kinds == ("number", "number"):
            a, b, fn = self.operand(left), self.operand(right), _NUM_OPS[node.op]
            if node.op == "!=":  # missing on either side: false, also for !=
                return lambda frame: _known(fn, a(frame), b(frame))
            return lambda frame: fn(a(frame), b(frame))
        if "number" in kinds:
            text_side, num_side = (left, right) if kinds[0] == "text" else (right, left)
            if isinstance(text_side, Field):
                raise self.error(
                    num_side.pos,
                    f"{text_side.name} is text: compare it with a quoted value, not a number",
                )
            raise self.error(
                text_side.pos,
                f"{_describe(num_side)} is a number: compare it with a number, not "
                f"{text_side.value!r}",  # type: ignore[union-attr]
            )
        if node.op not in ("=", "!="):
            raise self.error(node.pos, f"Text compares only with =, != or in (...), not {node.op}")
        fields = [x for x in (left, right) if isinstance(x, Field)]
        values = [x for x in (left, right) if isinstance(x, Literal)]
        if len(fields) != 1:
            raise self.error(
                node.pos,
                "Compare a text field with a quoted value (two fields or two values cannot be "
                "compared)",
            )
        return self._text_in(fields[0].name, (str(values[0].value),), negated=node.op == "!=")

    def in_list(self, node: InList) -> Mask:
        op = node.operand
        kind = self.kind(op)
        values = node.values
        if kind == "number":
            bad = next((v for v in values if isinstance(v.value, str)), None)
            if bad is not None:
                raise self.error(
                    bad.pos,
                    f"{_describe(op)} is a number: list numbers, not {bad.value!r}",
                    str(bad.value),
                )
            if isinstance(op, Literal):
                raise self.error(op.pos, "The left side of 'in' must be a field or a fact")
            get = self.operand(op)
            nums = np.array([float(v.value) for v in values], dtype=np.float64)
            negated = node.negated

            def member(frame: Frame) -> np.ndarray:
                x = np.asarray(get(frame), dtype=np.float64)
                hit = np.isin(x, nums)
                return (~hit & ~np.isnan(x)) if negated else hit

            return member
        bad = next((v for v in values if not isinstance(v.value, str)), None)
        if bad is not None:
            raise self.error(bad.pos, f"{_describe(op)} is text: quote {bad.value!r}")
        if not isinstance(op, Field):
            raise self.error(op.pos, "The left side of 'in' must be a field or a fact")
        return self._text_in(op.name, tuple(str(v.value) for v in values), negated=node.negated)

    @staticmethod
    def _text_in(name: str, wanted: tuple[str, ...], *, negated: bool) -> Mask:
        def member(frame: Frame) -> np.ndarray:
            codes, categories = frame.text(name)
            index = {c: i for i, c in enumerate(categories)}
            hits = np.zeros(len(categories) + 1, dtype=bool)  # last slot: missing (-1)
            for w in wanted:
                if w in index:
                    hits[index[w]] = True
            if negated:
                hits[:-1] = ~hits[:-1]
            return hits[np.asarray(codes)]  # -1 reads the last slot: missing is false

        return member


def _known(
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray], a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    out = fn(a, b)
    return out & ~np.isnan(a) & ~np.isnan(b)


def _describe(op: Operand) -> str:
    if isinstance(op, Field):
        return op.name
    if isinstance(op, Call):
        return f"{op.name}({op.window_text})"
    return "the value"


def compile_segment(expression: str, catalog: Catalog) -> CompiledSegment:
    """Parse and check ``expression``; return its evaluator.

    Parameters
    ----------
    expression : str
        A segment in the language of :mod:`graph.segments._syntax`.
    catalog : Catalog
        The names it may use.

    Raises
    ------
    SegmentError
        A syntax error, an unknown name or a type mismatch, with the position of the
        offending token and a caret line.
    """
    tree = parse(expression)
    return CompiledSegment(expression, tree, _Compiler(expression, catalog).node(tree))


def _operand_text(op: Operand) -> str:
    if isinstance(op, Literal):
        if isinstance(op.value, bool):
            return "true" if op.value else "false"
        if isinstance(op.value, str):
            return "'" + op.value.replace("'", "''") + "'"
        return repr(int(op.value)) if float(op.value).is_integer() else repr(op.value)
    if isinstance(op, Call):
        return f"{op.name}({op.window_text})"
    return op.name


def to_text(node: Node) -> str:
    """The canonical text of a tree (fully parenthesised below the top level);
    parsing it gives the same tree up to positions."""
    if isinstance(node, And | Or):
        word = " and " if isinstance(node, And) else " or "
        return word.join(_wrapped(p) for p in node.operands)
    if isinstance(node, Not):
        return "not " + _wrapped(node.operand)
    if isinstance(node, Tag):
        return "tag:'" + node.name.replace("'", "''") + "'"
    if isinstance(node, InList):
        word = " not in (" if node.negated else " in ("
        return _operand_text(node.operand) + word + ", ".join(map(_operand_text, node.values)) + ")"
    return f"{_operand_text(node.left)} {node.op} {_operand_text(node.right)}"


def _wrapped(node: Node) -> str:
    return f"({to_text(node)})" if isinstance(node, And | Or) else to_text(node)


def references(node: Node) -> dict[str, set[str]]:
    """The names a tree uses: ``fields``, ``facts`` (with their windows) and ``tags``."""
    out: dict[str, set[str]] = {"fields": set(), "facts": set(), "tags": set()}

    def visit_operand(op: Operand) -> None:
        if isinstance(op, Field):
            out["fields"].add(op.name)
        elif isinstance(op, Call):
            out["facts"].add(f"{op.name}({op.window_text})")

    def visit(n: Node) -> None:
        if isinstance(n, And | Or):
            for p in n.operands:
                visit(p)
        elif isinstance(n, Not):
            visit(n.operand)
        elif isinstance(n, Tag):
            out["tags"].add(n.name)
        elif isinstance(n, InList):
            visit_operand(n.operand)
        else:
            visit_operand(n.left)
            visit_operand(n.right)

    visit(node)
    return out
