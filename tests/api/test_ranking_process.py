"""Ranking in a child process (``POST /v1/runs``): the same ranking as in a thread, failures stored."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from datetime import UTC, datetime, timedelta

import pytest

from api.services import ranking as svc
from api.services import ranking_process as child
from graph.errors import ParameterError, ScoringError, StoreError
from influence.config import default_score_config

WINDOW = {"start": datetime(2026, 1, 1, tzinfo=UTC), "end": datetime(2026, 1, 2, 12, tzinfo=UTC)}


@pytest.mark.parametrize("window", [{}, WINDOW], ids=["open", "window"])
def test_compute_in_child_equals_in_thread(api_store, window) -> None:
    cfg = default_score_config()
    svc.run_ranking(api_store, cfg)  # a previous run: communities keep its ids
    here = svc.compute_ranking(api_store, cfg, **window)
    there = child.compute_in_child(api_store, cfg, **window)
    scores, components = here.tables()
    assert scores.num_rows == 20
    assert there.scores.equals(scores) and there.components.equals(components)
    assert there.scores.schema == scores.schema
    assert there.row_counts == here.row_counts
    assert set(there.timings) == set(here.timings)


def test_run_ranking_in_child_stores_succeeded_run(api_store) -> None:
    seen = []
    run = svc.run_ranking(
        api_store, compute=child.compute_in_child, progress=lambda *step: seen.append(step)
    )
    assert run.status == "succeeded" and api_store.latest_run().run_id == run.run_id
    assert run.params["owner"]["pid"] == os.getpid()  # the server owns the run, not the child
    assert [s for s, _, _ in seen] == list(svc.STEPS)
    assert api_store.read_scores(run.run_id).num_rows == run.row_counts["scores"] == 20
    assert "save" in run.timings


def test_run_ranking_in_child_error_fails_run_with_child_message(api_store) -> None:
    good = svc.run_ranking(api_store)
    empty = datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(ScoringError, match="holds no social events and no orders") as caught:
        svc.run_ranking(
            api_store, compute=child.compute_in_child, start=empty, end=empty + timedelta(days=30)
        )
    assert caught.value.context["end"] == empty + timedelta(days=30)
    [failed] = [r for r in api_store.list_runs() if r.status == "failed"]
    assert failed.error.startswith("ScoringError: The window") and "no social" in failed.error
    assert api_store.latest_run().run_id == good.run_id


def test_run_ranking_in_child_killed_child_fails_run(api_store) -> None:
    before = api_store.latest_run()
    niced: list[int] = []

    def kill_child(step: str, done: int, total: int) -> None:
        if step == "pagerank":
            [proc] = [p for p in mp.active_children() if p.name == "koc-ranking"]
            mine = os.getpriority(os.PRIO_PROCESS, 0)
            niced.append(os.getpriority(os.PRIO_PROCESS, proc.pid or 0) - mine)
            os.kill(proc.pid or 0, signal.SIGKILL)

    with pytest.raises(ScoringError, match="stopped before it finished") as caught:
        svc.run_ranking(api_store, compute=child.compute_in_child, progress=kill_child)
    assert caught.value.context["exit_code"] == -signal.SIGKILL
    assert niced == [min(child.CHILD_NICE, 19 - os.getpriority(os.PRIO_PROCESS, 0))]
    failed = api_store.list_runs(limit=1)[0]
    assert failed.status == "failed" and "exit code -9" in failed.error
    assert api_store.latest_run().run_id == before.run_id
    assert not [p for p in mp.active_children() if p.name == "koc-ranking"]


def test_serve_refuses_what_is_not_a_read(api_store) -> None:
    with pytest.raises(StoreError, match="not a store read"):
        child._serve(api_store, "save_run", (), {})
    with pytest.raises(AttributeError, match="save_run"):
        _ = child._StoreClient(None).save_run  # type: ignore[arg-type]


def test_rebuild_error_keeps_class_message_and_context() -> None:
    exc = child._rebuild_error(
        "graph.errors", "ParameterError", "bad alpha", {"parameter": "alpha"}
    )
    assert isinstance(exc, ParameterError) and str(exc) == "bad alpha"
    assert exc.context == {"parameter": "alpha"}
    value = child._rebuild_error("builtins", "ValueError", "boom", {})
    assert type(value) is ValueError and str(value) == "boom"
    other = child._rebuild_error("numpy.core._exceptions", "_ArrayMemoryError", "no memory", {})
    assert isinstance(other, ScoringError) and "no memory" in str(other)
