"""Ranking service: runs on a tiny store with hand-computed conversion scores, history, rank changes.

The store (T0 = 2026-07-01 UTC): u0 (consumer) shares c1, viewed by u1 and u3;
u2 (employee) shares c2, viewed by u4; u5 (KOL) refers u3.

* u1 buys 100.00 one day after viewing u0's share -> u0 (last view);
* u1 buys 30.00 two days later, fully refunded -> u0, net 0;
* u4 buys 60.00 with token c1 although it last viewed u2's share -> u0 (token first);
* u3 buys 40.00 ten days after its view (outside the 7-day window), 5 days after u5
  referred it -> u5 (referral).

With only the conversion weight: u0 160.00 and u5 40.00 are the only active users,
so their percentile ranks among the active are 2/2 = 1 and 1/2; everyone else scores 0.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from api.services import ranking as svc
from graph.errors import ConfigError, NotFoundError, ScoringError
from graph.events import EventType
from graph.store import ARROW_SCHEMAS
from influence.config import COMPONENTS, default_score_config
from influence.score import koc_score

T0 = datetime(2026, 7, 1, tzinfo=UTC)
ROLES = {
    "u0": "consumer",
    "u1": "consumer",
    "u2": "employee",
    "u3": "consumer",
    "u4": "consumer",
    "u5": "kol",
}


def _table(event_type, rows):
    schema = ARROW_SCHEMAS[event_type]
    return pa.Table.from_pylist([{n: r.get(n) for n in schema.names} for r in rows], schema=schema)


def _order(oid, buyer, amount, when, token=None):
    return {
        "event_id": oid,
        "order_id": oid,
        "buyer": buyer,
        "amount": Decimal(amount),
        "currency": "CNY",
        "ts": when,
        "attribution_token": token,
    }


def _view(eid, viewer, sharer, content, when):
    return {"event_id": eid, "viewer": viewer, "sharer": sharer, "content_id": content, "ts": when}


@pytest.fixture
def tiny(store):
    h, d = timedelta(hours=1), timedelta(days=1)
    store.append_batch(
        {
            EventType.USER: _table(
                EventType.USER,
                [{"event_id": f"user-{u}", "user_id": u, "role": r} for u, r in ROLES.items()],
            ),
            EventType.SHARE: _table(
                EventType.SHARE,
                [
                    {"event_id": "s1", "sharer": "u0", "content_id": "c1", "ts": T0},
                    {"event_id": "s2", "sharer": "u2", "content_id": "c2", "ts": T0},
                ],
            ),
            EventType.VIEW: _table(
                EventType.VIEW,
                [
                    _view("v1", "u1", "u0", "c1", T0 + h),
                    _view("v2", "u3", "u0", "c1", T0 + 2 * h),
                    _view("v3", "u4", "u2", "c2", T0 + d),
                ],
            ),
            EventType.REFERRAL: _table(
                EventType.REFERRAL,
                [{"event_id": "r1", "referrer": "u5", "referee": "u3", "ts": T0 + 5 * d}],
            ),
            EventType.ORDER: _table(
                EventType.ORDER,
                [
                    _order("o1", "u1", "100.00", T0 + d),
                    _order("o2", "u1", "30.00", T0 + 3 * d),
                    _order("o3", "u4", "60.00", T0 + 2 * d, token="c1"),
                    _order("o4", "u3", "40.00", T0 + 10 * d),
                ],
            ),
            EventType.REFUND: _table(
                EventType.REFUND,
                [
                    {
                        "event_id": "f1",
                        "order_id": "o2",
                        "amount": Decimal("30.00"),
                        "ts": T0 + 4 * d,
                    }
                ],
            ),
        }
    )
    return store


def _conversion_only():
    return default_score_config().with_weights(
        {
            "pagerank": 0,
            "reach": 0,
            "conversion": 1,
            "conversion_rate": 0,
            "engagement": 0,
            "spend": 0,
        }
    )


def _scores(store, run_id):
    t = store.read_scores(run_id)
    return dict(zip(t.column("user_id").to_pylist(), t.column("score").to_pylist(), strict=True))


def test_run_ranking_conversion_scores_by_hand(tiny):
    run = svc.run_ranking(tiny, _conversion_only())
    assert run.status == "succeeded"
    assert _scores(tiny, run.run_id) == pytest.approx(
        {"u0": 1.0, "u5": 1 / 2, "u1": 0.0, "u2": 0.0, "u3": 0.0, "u4": 0.0}
    )
    comps = tiny.read_components(run.run_id, user_ids=["u0", "u5"]).to_pylist()
    raw = {(c["user_id"], c["component"]): c["raw"] for c in comps}
    # attribution by hand: u0 gets o1 (u1, 100, last view) and o2 (u1, 30 refunded: net 0, last
    # view) and o3 (u4, 60, token on u4's first order); u5 gets o4 (u3, 40, referral window)
    assert raw[("u0", "conversion.attributed_gmv")] == pytest.approx(160.0)
    assert raw[("u5", "conversion.attributed_gmv")] == pytest.approx(40.0)
    assert raw[("u0", "conversion.gmv_view")] == pytest.approx(100.0)
    assert raw[("u0", "conversion.gmv_token")] == pytest.approx(60.0)
    assert (
        raw[("u0", "conversion.buyers_view")] == 1 and raw[("u0", "conversion.buyers_token")] == 1
    )
    assert raw[("u5", "conversion.gmv_referral")] == pytest.approx(40.0)
    # evidence (docs/scoring.md): strengths view 0.1, new-buyer token 1.0, referral window
    # 0.05 x 0.3 (u5 and u3 share no other interaction); u0: B = 0.1 + 1.0 distinct buyers,
    # G = 0.1 * 100 + 0.1 * 0 + 1.0 * 60; u5: B = 0.015, G = 0.015 * 40
    b0, g0, b5, g5 = 1.1, 70.0, 0.015, 0.6
    mean = (g0 + g5) / (b0 + b5)
    assert raw[("u0", "conversion.evidence_buyers")] == pytest.approx(b0)
    assert raw[("u0", "conversion")] == pytest.approx(b0 * (g0 + mean) / (b0 + 1))
    assert raw[("u5", "conversion")] == pytest.approx(b5 * (g5 + mean) / (b5 + 1))
    assert raw[("u0", "conversion.conversions")] == 3
    assert raw[("u0", "engagement.unique_audience")] == 2
    assert run.row_counts["orders_attributed"] == 4
    assert run.row_counts["users"] == 6


def test_run_record_metadata(tiny):
    cfg = _conversion_only()
    run = svc.run_ranking(tiny, cfg, end=T0 + timedelta(days=30))
    stored = tiny.get_run(run.run_id)
    assert stored.config_hash == cfg.digest()
    assert stored.window_end == T0 + timedelta(days=30)
    assert stored.watermark == T0 + timedelta(days=10)
    assert {"snapshot", "pagerank", "engagement", "score", "save", "total"} <= set(stored.timings)
    assert stored.params["weights"]["conversion"] == 1.0


def test_run_ranking_default_config_breakdown_is_consistent(tiny):
    run = svc.run_ranking(tiny)
    comps = tiny.read_components(run.run_id)
    main = comps.filter(pc.is_in(comps.column("component"), pa.array(COMPONENTS))).to_pylist()
    assert len(main) == 6 * len(COMPONENTS)
    scores = _scores(tiny, run.run_id)
    by_user: dict[str, float] = {}
    for c in main:
        by_user[c["user_id"]] = by_user.get(c["user_id"], 0.0) + c["contribution"]
    assert by_user == pytest.approx(scores)
    # re-scoring the stored raw values gives the stored normalised values
    users = sorted(scores)
    raw = {
        k: np.array(
            [
                next(c["raw"] for c in main if c["user_id"] == u and c["component"] == k)
                for u in users
            ]
        )
        for k in COMPONENTS
    }
    active = {
        "pagerank": np.array([u in {"u0", "u2", "u5"} for u in users]),
        "reach": raw["reach"] >= 0.5,
    }
    expected = koc_score(raw, dict(default_score_config().weights), active=active)
    assert expected.score == pytest.approx([scores[u] for u in users])


def test_leaderboard_excludes_staff_unless_asked(tiny):
    svc.run_ranking(tiny, _conversion_only())
    rows = svc.leaderboard(tiny)
    assert [r["user_id"] for r in rows] == ["u0", "u1", "u3", "u4"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert [r["overall_rank"] for r in rows] == [1, 3, 5, 6]
    assert rows[0]["breakdown"]["conversion"] == pytest.approx(1.0)
    assert rows[0]["rank_change"] is None
    everyone = svc.leaderboard(tiny, include_staff=True)
    assert [r["user_id"] for r in everyone] == ["u0", "u5", "u1", "u2", "u3", "u4"]
    assert [r["user_id"] for r in svc.leaderboard(tiny, role="kol")] == ["u5"]


def test_leaderboard_filters_and_pagination(tiny, monkeypatch):
    monkeypatch.setattr(svc, "_communities", lambda snap, cfg: np.arange(snap.n_nodes) % 2)
    run = svc.run_ranking(tiny, _conversion_only())
    community_of = {
        u: c
        for u, c in zip(
            tiny.read_scores(run.run_id).column("user_id").to_pylist(),
            tiny.read_scores(run.run_id).column("community").to_pylist(),
            strict=True,
        )
    }
    rows = svc.leaderboard(tiny, community=1, include_staff=True)
    assert rows and all(community_of[r["user_id"]] == 1 for r in rows)
    assert [r["user_id"] for r in svc.leaderboard(tiny, min_score=0.5, include_staff=True)] == [
        "u0",
        "u5",
    ]
    page1 = svc.leaderboard(tiny, limit=2)
    page2 = svc.leaderboard(tiny, limit=2, after_rank=page1[-1]["rank"])
    assert [r["user_id"] for r in page1 + page2] == ["u0", "u1", "u3", "u4"]


def test_leaderboard_bad_arguments(tiny):
    svc.run_ranking(tiny, _conversion_only())
    with pytest.raises(ConfigError, match="'sort'"):
        svc.leaderboard(tiny, sort="followers")
    with pytest.raises(ConfigError, match="'limit'"):
        svc.leaderboard(tiny, limit=0)
    with pytest.raises(NotFoundError):
        svc.leaderboard(tiny, run_id="nope")


def test_leaderboard_without_runs_says_what_to_do(store):
    with pytest.raises(NotFoundError, match="koc rank"):
        svc.leaderboard(store)


def _second_run(tiny):
    """Add a 500.00 order credited (token c2, the buyer u3's first order) to the employee u2,
    and rank again."""
    tiny.append_batch(
        {
            EventType.ORDER: _table(
                EventType.ORDER, [_order("o5", "u3", "500.00", T0 + 6 * timedelta(days=1), "c2")]
            )
        }
    )
    return svc.run_ranking(tiny, _conversion_only())


def test_rank_changes_between_runs(tiny):
    first = svc.run_ranking(tiny, _conversion_only())
    second = _second_run(tiny)
    # new overall ranks: u2 1, u0 2, u5 3, u1 4, u3 5, u4 6 (was u0 1, u5 2, u1 3, u2 4, u3 5, u4 6)
    changes = svc.rank_changes(tiny, include_staff=True)
    assert changes["run_id"] == second.run_id and changes["previous_run_id"] == first.run_id
    assert [(r["user_id"], r["rank_change"]) for r in changes["rising"]] == [("u2", 3)]
    assert [(r["user_id"], r["rank_change"]) for r in changes["falling"]] == [
        ("u0", -1),
        ("u5", -1),
        ("u1", -1),
    ]
    assert changes["compared"] == 6 and changes["entered"] == 0
    consumers = svc.rank_changes(tiny)
    assert consumers["rising"] == []
    assert [r["user_id"] for r in consumers["falling"]] == ["u0", "u1"]
    rows = svc.leaderboard(tiny, sort="rank_change", include_staff=True)
    assert rows[0]["user_id"] == "u2" and rows[0]["rank_change"] == 3
    assert svc.user_profile(tiny, "u0")["rank_change"] == -1


def test_rank_changes_first_run_has_nothing_to_compare(tiny):
    run = svc.run_ranking(tiny, _conversion_only())
    out = svc.rank_changes(tiny)
    assert out == {
        "run_id": run.run_id,
        "previous_run_id": None,
        "rising": [],
        "falling": [],
        "entered": 0,
        "compared": 0,
    }


def test_rank_changes_against_explicit_run(tiny):
    first = svc.run_ranking(tiny, _conversion_only())
    svc.run_ranking(tiny, _conversion_only())
    third = _second_run(tiny)
    out = svc.rank_changes(tiny, third.run_id, against=first.run_id, include_staff=True)
    assert out["previous_run_id"] == first.run_id
    assert out["rising"][0]["user_id"] == "u2"


def test_user_profile_breakdown(tiny):
    run = svc.run_ranking(tiny)
    prof = svc.user_profile(tiny, "u0")
    assert prof["run_id"] == run.run_id and prof["rank"] == 1
    assert [c["component"] for c in prof["components"]] == list(COMPONENTS)
    assert sum(c["contribution"] for c in prof["components"]) == pytest.approx(prof["score"])
    assert sum(c["weight"] for c in prof["components"]) == pytest.approx(1.0)
    assert prof["details"]["engagement.shares_made"] == 1
    assert prof["details"]["conversion.conversions"] == 3


def test_user_profile_unknown_user(tiny):
    svc.run_ranking(tiny)
    with pytest.raises(NotFoundError, match="nobody"):
        svc.user_profile(tiny, "nobody")


def test_failed_run_is_recorded(tiny, monkeypatch):
    def boom(*args, **kwargs):
        raise ScoringError("pagerank exploded")

    monkeypatch.setattr(svc, "pagerank", boom)
    with pytest.raises(ScoringError):
        svc.run_ranking(tiny)
    [run] = tiny.list_runs()
    assert run.status == "failed" and "pagerank exploded" in run.error
    assert tiny.latest_run() is None


def test_empty_store_raises_scoring_error(store):
    with pytest.raises(ScoringError, match="koc ingest"):
        svc.run_ranking(store)


def test_window_limits_the_events(tiny):
    run = svc.run_ranking(tiny, _conversion_only(), end=T0 + timedelta(days=2))
    # only o1 (u1 -> u0) is inside [., T0 + 2 days)
    assert run.row_counts["orders"] == 1
    assert _scores(tiny, run.run_id)["u5"] == 0.0


def test_progress_callback_sees_every_step(tiny):
    seen = []
    svc.run_ranking(tiny, progress=lambda step, done, total: seen.append((step, done, total)))
    assert [s for s, _, _ in seen] == list(svc.STEPS)
    assert seen[-1][1:] == (len(svc.STEPS) - 1, len(svc.STEPS))


def test_referral_code_token_credits_the_named_user(tiny):
    # u1 orders with a referral code of u3 one hour after viewing u0's share: the code wins
    tiny.append_batch(
        {
            EventType.ORDER: _table(
                EventType.ORDER,
                [_order("o9", "u1", "70.00", T0 + 2 * timedelta(hours=1), token="ref-u3")],
            )
        }
    )
    run = svc.run_ranking(tiny, _conversion_only())
    raw = {
        c["user_id"]: c["raw"]
        for c in tiny.read_components(run.run_id).to_pylist()
        if c["component"] == "conversion.attributed_gmv"
    }
    assert raw["u3"] == pytest.approx(70.0)
    assert raw["u0"] == pytest.approx(160.0)
    codes = {
        c["user_id"]: c["raw"]
        for c in tiny.read_components(run.run_id).to_pylist()
        if c["component"] == "conversion.gmv_code"
    }
    assert codes == {"u3": pytest.approx(70.0)}


def test_conversion_rate_is_smoothed_evidence_buyers_per_audience(tiny):
    run = svc.run_ranking(tiny)
    rate = {
        c["user_id"]: c["raw"]
        for c in tiny.read_components(run.run_id).to_pylist()
        if c["component"] == "conversion_rate"
    }
    prior = default_score_config().conversion.rate_prior
    # evidence-weighted distinct buyers (see test_run_ranking_conversion_scores_by_hand):
    # u0: 0.1 (u1, last view) + 1.0 (u4, token on a first order), audience {u1, u3};
    # u5: 0.05 x 0.3 (u3, untied referral window), audience {u3}
    assert rate["u0"] == pytest.approx(1.1 / (2 + prior))
    assert rate["u5"] == pytest.approx(0.015 / (1 + prior))
    assert rate["u1"] == 0.0


def test_compute_ranking_passes_backbone_settings_to_leiden(store) -> None:
    # two cliques of 8 users (every pair viewed each other's shares) and one bridge
    views, k = [], 0
    for group in ("a", "b"):
        for i in range(8):
            for j in range(8):
                if i != j:
                    k += 1
                    views.append(_view(f"v{k}", f"{group}{i}", f"{group}{j}", "c", T0))
    views.append(_view("bridge", "a0", "b0", "c", T0))
    store.append_batch({EventType.VIEW: _table(EventType.VIEW, views)})
    cfg = default_score_config()

    def communities(**backbone: int) -> int:
        section = cfg.communities.model_copy(update=backbone)
        ranking = svc.compute_ranking(store, cfg.model_copy(update={"communities": section}))
        assert ranking.communities is not None
        return len(set(ranking.communities.tolist()))

    assert communities() == 2  # the graph is far below the backbone threshold: exact
    # forced backbone of 1 tie per user: at most pairs and stars survive, so more groups
    assert communities(backbone_above=1, backbone_ties=1) > 2


def test_run_ranking_empty_window_refused_not_promoted(tiny):
    good = svc.run_ranking(tiny)
    empty = datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(ScoringError, match="holds no social events and no orders"):
        svc.run_ranking(tiny, start=empty, end=empty + timedelta(days=30))
    assert tiny.latest_run().run_id == good.run_id  # the leaderboard stays on the real run
    [failed] = [r for r in tiny.list_runs() if r.status == "failed"]
    assert "no social events" in failed.error


def test_run_ranking_reaps_run_of_killed_process(tiny):
    import os
    import socket
    import subprocess
    import sys

    from graph.store import RunRecord

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs: the `koc rank` that was killed
    owner = {"host": socket.gethostname(), "pid": gone.pid}
    tiny.save_run(RunRecord("r-killed", T0, params={"owner": owner}))
    other = {"host": "another-host", "pid": os.getpid()}
    tiny.save_run(RunRecord("r-elsewhere", T0, params={"owner": other}))
    svc.run_ranking(tiny)
    assert tiny.get_run("r-killed").status == "failed"
    assert "abandoned" in tiny.get_run("r-killed").error
    assert tiny.get_run("r-elsewhere").status == "running"  # not ours to judge


def test_run_ranking_keeps_community_ids_across_runs(store) -> None:
    # three cliques of 6 (a, b, c); the second run adds a clique of 9 (d) that would be
    # the largest community, hence label 0, without the carry-over from the first run
    def cliques(groups: str, size: int, tag: str) -> list:
        return [
            _view(f"{tag}{g}{i}-{j}", f"{g}{i}", f"{g}{j}", "c", T0)
            for g in groups
            for i in range(size)
            for j in range(size)
            if i != j
        ]

    store.append_batch({EventType.VIEW: _table(EventType.VIEW, cliques("abc", 6, "x"))})
    first = svc.run_ranking(store)
    before = {r["user_id"]: r["community"] for r in store.read_scores(first.run_id).to_pylist()}
    store.append_batch({EventType.VIEW: _table(EventType.VIEW, cliques("d", 9, "y"))})
    second = svc.run_ranking(store)
    after = {r["user_id"]: r["community"] for r in store.read_scores(second.run_id).to_pylist()}
    assert len(set(before.values())) == 3
    assert all(after[u] == c for u, c in before.items())  # every old user keeps its id
    new_ids = {after[f"d{i}"] for i in range(9)}
    assert len(new_ids) == 1 and new_ids.pop() not in set(before.values())
