"""The ``fraud_held`` fact tag's source and time: the ledger's hold of a commission
(a self-referral through a shared device, as in ``test_attribution.py``)."""

from __future__ import annotations

import pyarrow as pa

from api.services import segments, tags
from graph.store import COMPONENT_SCHEMA, SCORE_SCHEMA, RunRecord
from referral.service import held_beneficiaries, holds_of
from tests.referral.conftest import World, day


def test_fraud_held_tag_names_the_hold_and_its_time(world: World) -> None:
    world.ev.user("e", device_hash="D1").user("f", device_hash="D1")
    world.ev.referral("e", "f", day(0)).order("O1", "f", "100.00", day(1))
    world.run()
    (entry,) = world.entries()
    assert entry["status"] == "held" and held_beneficiaries(world.store) == ["e"]
    (hold,) = holds_of(world.store, "e")
    assert hold["entry_id"] == entry["entry_id"] and "share a device" in hold["reason"]
    assert holds_of(world.store, "f") == []
    scores = pa.Table.from_pylist(
        [
            {"user_id": u, "rank": i + 1, "score": 1.0 - i / 4, "role": "consumer"}
            for i, u in enumerate("ef")
        ],
        schema=SCORE_SCHEMA,
    )
    world.store.save_run(
        RunRecord(run_id="r1", created_at=day(2), status="succeeded", window_end=day(2)),
        scores,
        COMPONENT_SCHEMA.empty_table(),
    )
    segments.FRAMES.clear()
    try:
        mine = {r["tag"]: r for r in tags.user_tags(world.store, "e")}
        held = mine["fraud_held"]
        assert held["kind"] == "fact" and held["source"] == f"ledger:{entry['entry_id']}"
        assert held["tagged_at"] == hold["held_at"].isoformat()
        assert "fraud_held" not in {r["tag"] for r in tags.user_tags(world.store, "f")}
        assert segments.check_expression(world.store, "tag:fraud_held").evaluate(
            segments.run_frame(world.store)
        ).tolist() == [True, False]
    finally:
        segments.FRAMES.clear()
