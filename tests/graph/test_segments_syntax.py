"""The segment language's parser: precedence, the tree, canonical text, errors with carets."""

from __future__ import annotations

import pytest

from graph.errors import SegmentError
from graph.segments import (
    MAX_DEPTH,
    And,
    Call,
    Compare,
    Field,
    InList,
    Literal,
    Not,
    Or,
    Tag,
    parse,
    to_text,
)

ISSUE_EXAMPLE = (
    "role = consumer and community in (3, 7) and forwards(30d) >= 2 and not tag:fraud_held "
    "and channel_pref = 'xiaohongshu'"
)


def _shape(node):
    """The tree without positions, for comparisons."""
    if isinstance(node, And | Or):
        return (type(node).__name__, tuple(_shape(p) for p in node.operands))
    if isinstance(node, Not):
        return ("Not", _shape(node.operand))
    if isinstance(node, Tag):
        return ("Tag", node.name)
    if isinstance(node, InList):
        return ("In", _shape(node.operand), tuple(v.value for v in node.values), node.negated)
    if isinstance(node, Compare):
        return (node.op, _shape(node.left), _shape(node.right))
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Call):
        return ("call", node.name, node.window_us)
    assert isinstance(node, Field)
    return ("field", node.name)


def test_parse_issue_example_is_one_and_of_five() -> None:
    tree = parse(ISSUE_EXAMPLE)
    assert isinstance(tree, And) and len(tree.operands) == 5
    assert _shape(tree.operands[1]) == ("In", ("field", "community"), (3.0, 7.0), False)
    assert _shape(tree.operands[2]) == (">=", ("call", "forwards", 30 * 86_400_000_000), 2.0)
    assert _shape(tree.operands[3]) == ("Not", ("Tag", "fraud_held"))


def test_parse_and_binds_tighter_than_or() -> None:
    assert _shape(parse("a = 1 or b = 2 and c = 3")) == _shape(parse("a = 1 or (b = 2 and c = 3)"))
    assert _shape(parse("a = 1 and b = 2 or c = 3")) == _shape(parse("(a = 1 and b = 2) or c = 3"))


def test_parse_not_binds_tighter_than_and() -> None:
    tree = parse("not a = 1 and b = 2")
    assert isinstance(tree, And) and isinstance(tree.operands[0], Not)
    assert _shape(parse("not not a = 1")) == ("Not", ("Not", ("=", ("field", "a"), 1.0)))


def test_parse_parentheses_override_precedence() -> None:
    tree = parse("(a = 1 or b = 2) and c = 3")
    assert isinstance(tree, And) and isinstance(tree.operands[0], Or)


def test_parse_keywords_are_case_insensitive() -> None:
    assert _shape(parse("A = 1 AND NOT b IN (1, 2) Or TAG:x")) == _shape(
        parse("A = 1 and not b in (1, 2) or tag:x")
    )


def test_parse_operator_spellings_are_normalised() -> None:
    assert parse("a == 1").op == "=" and parse("a <> 1").op == "!="


def test_parse_windows_and_units() -> None:
    day = 86_400_000_000
    assert parse("orders(last 90d) > 0").left.window_us == 90 * day
    assert parse("orders(12h) > 0").left.window_us == day // 2
    assert parse("orders(2w) > 0").left.window_us == 14 * day
    assert parse("orders() > 0").left.window_us is None


def test_parse_strings_with_doubled_quotes_and_tags() -> None:
    assert parse("role = 'it''s'").right.value == "it's"
    assert parse('role = "say ""hi"""').right.value == 'say "hi"'
    assert parse("tag:2026-vip.gold").name == "2026-vip.gold"
    assert parse("tag:'高价值 客户'").name == "高价值 客户"


def test_parse_negative_numbers_and_not_in() -> None:
    tree = parse("rank_change > -5 and community not in (1, 2)")
    assert tree.operands[0].right.value == -5.0
    assert tree.operands[1].negated is True


def test_to_text_round_trips() -> None:
    for text in (
        ISSUE_EXAMPLE,
        "not (a = 1 or b = 'x''y') and tag:'q r'",
        "a = 1 or b = 2 and not c in (1, 2.5)",
    ):
        tree = parse(text)
        assert _shape(parse(to_text(tree))) == _shape(tree)


@pytest.mark.parametrize(
    ("expression", "position", "words"),
    [
        ("role = ", 7, "found the end"),
        ("role = 1 and (b = 2", 19, "')' to close the '(' at position 13"),
        ("x ~ 1", 2, "unexpected character '~'"),
        ("forwards(30x) > 1", 9, "'30x'"),
        ("role = 'abc", 7, "unterminated string"),
        ("a = 1 b = 2", 6, "Expected 'and', 'or'"),
        ("", 0, "empty"),
        ("a in 1, 2", 5, "'(' to open the list"),
        ("tag:", 4, "tag name"),
        ("score >", 7, "found the end"),
        ("a = 1 and", 9, "found the end"),
        ("orders(last) > 1", 11, "duration after 'last'"),
    ],
)
def test_parse_errors_point_at_the_offending_token(
    expression: str, position: int, words: str
) -> None:
    with pytest.raises(SegmentError) as info:
        parse(expression)
    err = info.value
    assert err.context["position"] == position
    assert words in err.message
    line, caret = err.context["caret"].split("\n")
    assert caret == " " * position + "^"


def test_parse_refuses_deep_nesting() -> None:
    with pytest.raises(SegmentError, match="nests deeper"):
        parse("(" * (MAX_DEPTH + 1) + "a = 1" + ")" * (MAX_DEPTH + 1))
    with pytest.raises(SegmentError, match="nests deeper"):
        parse("not " * (MAX_DEPTH + 1) + "a = 1")


def test_parse_refuses_overlong_input() -> None:
    with pytest.raises(SegmentError, match="longer than"):
        parse("a = 1 or " * 2000 + "a = 1")
