"""Segment semantics: the vectorised evaluator against a per-user Python evaluation of
random expressions over random users (hypothesis), type checks, and inert injections."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graph.errors import SegmentError
from graph.segments import ArrayFrame, Catalog, EventFact, compile_segment

DAY = 86_400_000_000
END = 200 * DAY
ROLES = ("consumer", "employee", "kol", "unknown")
CHANNELS = ("wechat", "weibo", "xiaohongshu")
CATALOG = Catalog(
    numbers=frozenset({"score", "community"}),
    texts=frozenset({"role", "channel_pref"}),
    facts=frozenset({"forwards", "orders"}),
    tags=frozenset({"vip", "fraud_held"}),
)

users_st = st.lists(
    st.fixed_dictionaries(
        {
            "score": st.floats(0, 1, allow_nan=False),
            "community": st.one_of(st.none(), st.integers(0, 5)),
            "role": st.sampled_from(ROLES),
            "channel_pref": st.one_of(st.none(), st.sampled_from(CHANNELS)),
            "forwards": st.lists(st.integers(0, 120), max_size=6),  # days before END
            "orders": st.lists(st.integers(0, 120), max_size=4),
            "tags": st.sets(st.sampled_from(("vip", "fraud_held"))),
        }
    ),
    min_size=1,
    max_size=25,
)


def _frame(users: list[dict]) -> ArrayFrame:
    n = len(users)

    def text(name: str, cats: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
        return (
            np.array([-1 if u[name] is None else cats.index(u[name]) for u in users]),
            cats,
        )

    def fact(name: str) -> EventFact:
        rows = [(i, END - d * DAY) for i, u in enumerate(users) for d in u[name]]
        return EventFact(
            np.array([r for r, _ in rows], dtype=np.int64),
            np.array([t for _, t in rows], dtype=np.int64),
        )

    return ArrayFrame(
        size=n,
        end_us=END,
        numbers={
            "score": np.array([u["score"] for u in users]),
            "community": np.array(
                [np.nan if u["community"] is None else u["community"] for u in users]
            ),
        },
        texts={"role": text("role", ROLES), "channel_pref": text("channel_pref", CHANNELS)},
        facts={"forwards": fact("forwards"), "orders": fact("orders")},
        tags={t: np.array([t in u["tags"] for u in users]) for t in ("vip", "fraud_held")},
    )


# --- random expressions, built as (text, per-user python predicate) pairs -----------------
_OPS = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _count(days: list[int], window: int | None) -> int:
    return sum(1 for d in days if window is None or d <= window)


@st.composite
def condition(draw):
    kind = draw(st.sampled_from(["num", "fact", "text", "in", "tag", "textin"]))
    if kind == "num":
        field = draw(st.sampled_from(["score", "community"]))
        op = draw(st.sampled_from(list(_OPS)))
        value = draw(st.sampled_from([0, 1, 2, 3, 0.5]))

        def pred(u, field=field, op=op, value=value):
            x = u[field]
            return x is not None and _OPS[op](x, value)

        return f"{field} {op} {value}", pred
    if kind == "fact":
        field = draw(st.sampled_from(["forwards", "orders"]))
        window = draw(st.sampled_from([None, 7, 30, 90]))
        op = draw(st.sampled_from(list(_OPS)))
        value = draw(st.integers(0, 3))
        call = f"{field}({'' if window is None else f'{window}d'})"
        return f"{call} {op} {value}", lambda u, f=field, w=window, o=op, v=value: _OPS[o](
            _count(u[f], w), v
        )
    if kind == "text":
        field = draw(st.sampled_from(["role", "channel_pref"]))
        value = draw(st.sampled_from(ROLES + CHANNELS + ("nobody",)))
        op = draw(st.sampled_from(["=", "!="]))

        def tpred(u, field=field, value=value, op=op):
            x = u[field]
            return x is not None and _OPS[op](x, value)

        return f"{field} {op} '{value}'", tpred
    if kind == "in":
        values = draw(st.lists(st.integers(0, 5), min_size=1, max_size=3))
        negated = draw(st.booleans())

        def ipred(u, values=values, negated=negated):
            x = u["community"]
            return x is not None and ((x in values) != negated)

        word = "not in" if negated else "in"
        return f"community {word} ({', '.join(map(str, values))})", ipred
    if kind == "textin":
        values = draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=3))
        return f"role in ({', '.join(values)})", lambda u, values=values: u["role"] in values
    tag = draw(st.sampled_from(["vip", "fraud_held"]))
    return f"tag:{tag}", lambda u, tag=tag: tag in u["tags"]


def expression():
    return st.recursive(
        condition(),
        lambda inner: st.one_of(
            st.tuples(inner).map(lambda t: (f"not ({t[0][0]})", lambda u, p=t[0][1]: not p(u))),
            st.tuples(inner, inner).map(
                lambda t: (
                    f"({t[0][0]}) and ({t[1][0]})",
                    lambda u, a=t[0][1], b=t[1][1]: a(u) and b(u),
                )
            ),
            st.tuples(inner, inner).map(
                lambda t: (
                    f"({t[0][0]}) or ({t[1][0]})",
                    lambda u, a=t[0][1], b=t[1][1]: a(u) or b(u),
                )
            ),
        ),
        max_leaves=8,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(users=users_st, expr=expression())
def test_evaluate_matches_brute_force(users: list[dict], expr) -> None:
    text, pred = expr
    got = compile_segment(text, CATALOG).evaluate(_frame(users))
    want = np.array([bool(pred(u)) for u in users])
    assert got.tolist() == want.tolist(), text


@settings(max_examples=100, deadline=None)
@given(users=users_st, expr=expression())
def test_evaluate_canonical_text_gives_same_members(users: list[dict], expr) -> None:
    seg = compile_segment(expr[0], CATALOG)
    again = compile_segment(seg.text, CATALOG)
    frame = _frame(users)
    assert seg.evaluate(frame).tolist() == again.evaluate(frame).tolist()


def _users() -> list[dict]:
    base = {"forwards": [], "orders": [], "tags": set(), "channel_pref": None}
    return [
        {
            **base,
            "score": 0.9,
            "community": 3,
            "role": "consumer",
            "forwards": [1, 5],
            "channel_pref": "xiaohongshu",
        },
        {
            **base,
            "score": 0.8,
            "community": 7,
            "role": "consumer",
            "forwards": [2, 40],
            "channel_pref": "xiaohongshu",
        },
        {
            **base,
            "score": 0.7,
            "community": 3,
            "role": "consumer",
            "forwards": [1, 2],
            "channel_pref": "xiaohongshu",
            "tags": {"fraud_held"},
        },
        {
            **base,
            "score": 0.6,
            "community": 3,
            "role": "kol",
            "forwards": [1, 2],
            "channel_pref": "xiaohongshu",
        },
        {
            **base,
            "score": 0.5,
            "community": None,
            "role": "consumer",
            "forwards": [1, 2],
            "channel_pref": "wechat",
        },
    ]


def test_evaluate_issue_example_by_hand() -> None:
    expr = (
        "role = consumer and community in (3, 7) and forwards(30d) >= 2 and not tag:fraud_held "
        "and channel_pref = 'xiaohongshu'"
    )
    # user 1: only one forward in 30 days; 2: fraud held; 3: a KOL; 4: no community
    assert compile_segment(expr, CATALOG).evaluate(_frame(_users())).tolist() == [
        True,
        False,
        False,
        False,
        False,
    ]


def test_evaluate_missing_values_are_false_for_every_operator() -> None:
    frame = _frame(_users())
    for expr in ("community != 3", "community not in (3)", "community < 100", "community = 3"):
        assert not compile_segment(expr, CATALOG).evaluate(frame)[4], expr
    assert compile_segment("not community = 3", CATALOG).evaluate(frame)[4]


@pytest.mark.parametrize(
    ("expression", "position", "words"),
    [
        ("role < 'kol'", 0, "only with =, != or in"),
        ("role = 3", 7, "role is text"),
        ("score = 'high'", 8, "score is a number"),
        ("nosuch = 1", 0, "Unknown field 'nosuch'"),
        ("nosuch(30d) > 1", 0, "Unknown fact nosuch(...)"),
        ("forwards > 1", 0, "write forwards(30d)"),
        ("tag:unknown_tag", 0, "Unknown tag 'unknown_tag'"),
        ("community in ('a')", 14, "community is a number"),
        ("role in (1, 2)", 9, "role is text"),
        ("role = channel_pref", 0, "two fields"),
    ],
)
def test_compile_errors_point_at_the_token(expression: str, position: int, words: str) -> None:
    with pytest.raises(SegmentError) as info:
        compile_segment(expression, CATALOG)
    assert info.value.context["position"] == position
    assert words in info.value.message


@pytest.mark.parametrize(
    "attack",
    [
        "role = 'x'' or 1=1 --'",
        "role = 'consumer''; DROP TABLE users; --'",
        'role = \'__import__("os").system("touch /tmp/pwned")\'',
        "tag:'x'' or ''1''=''1'",
    ],
)
def test_injection_attempts_are_plain_values(attack: str) -> None:
    catalog = Catalog(CATALOG.numbers, CATALOG.texts, CATALOG.facts, tags=None)
    mask = compile_segment(attack, catalog).evaluate(_frame(_users()))
    assert not mask.any()  # a literal that matches nobody, nothing executed


@pytest.mark.parametrize(
    "attack",
    ["__import__('os').system('id')", "role = consumer; drop table users", "score = 1 -- x"],
)
def test_injection_code_is_refused_by_the_parser(attack: str) -> None:
    with pytest.raises(SegmentError):
        compile_segment(attack, CATALOG)


def test_evaluate_constant_condition_broadcasts() -> None:
    frame = _frame(_users())
    assert compile_segment("1 = 1", CATALOG).evaluate(frame).tolist() == [True] * 5
    assert compile_segment("false", CATALOG).evaluate(frame).tolist() == [False] * 5


def test_windowed_fact_is_computed_once_per_window() -> None:
    frame = _frame(_users())
    a = frame.fact("forwards", 30 * DAY)
    assert frame.fact("forwards", 30 * DAY) is a
    assert a.tolist() == [2.0, 1.0, 2.0, 2.0, 2.0]
    assert frame.fact("forwards", None).tolist() == [2.0, 2.0, 2.0, 2.0, 2.0]
    assert frame.fact("forwards", 3 * DAY).tolist() == [1.0, 1.0, 2.0, 2.0, 2.0]  # 5d, 40d out
