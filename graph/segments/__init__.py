"""Audiences: the segment expression language (parse, check, evaluate over arrays).

``parse`` turns an expression such as ``role = 'consumer' and forwards(30d) >= 2 and
not tag:fraud_held`` into a syntax tree (:mod:`graph.segments._syntax`);
``compile_segment`` checks it against a :class:`Catalog` of the fields, facts and tags
a run offers and returns a :class:`CompiledSegment` whose ``evaluate(frame)`` is a
vectorised boolean mask over the run's users (:mod:`graph.segments._compile`). The
grammar and every field are documented in ``docs/segments.md``.
"""

from graph.segments._compile import (
    Catalog,
    CompiledSegment,
    Frame,
    compile_segment,
    references,
    to_text,
)
from graph.segments._frame import ArrayFrame, EventFact
from graph.segments._syntax import (
    MAX_DEPTH,
    MAX_LENGTH,
    And,
    Call,
    Compare,
    Field,
    InList,
    Literal,
    Node,
    Not,
    Or,
    Tag,
    Token,
    parse,
    tokenize,
)

__all__ = [
    "ArrayFrame",
    "Catalog",
    "CompiledSegment",
    "EventFact",
    "Frame",
    "compile_segment",
    "references",
    "to_text",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "And",
    "Call",
    "Compare",
    "Field",
    "InList",
    "Literal",
    "Node",
    "Not",
    "Or",
    "Tag",
    "Token",
    "parse",
    "tokenize",
]
