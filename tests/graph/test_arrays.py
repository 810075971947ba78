"""graph.arrays: time units and the user id -> node index lookup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pyarrow as pa

from graph.arrays import US_PER_DAY, US_PER_SECOND, micros, node_index, node_indexes


def test_time_units_are_microseconds():
    assert US_PER_SECOND == 1_000_000
    assert int(timedelta(days=1) / timedelta(microseconds=1)) == US_PER_DAY


def test_micros_of_any_unit_and_zone_is_utc_epoch_microseconds():
    t = datetime(2026, 7, 1, 8, 0, 0, 250_000, tzinfo=timezone(timedelta(hours=8)))
    expected = int((t - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
    us = pa.array([t], pa.timestamp("us", tz="Asia/Shanghai"))
    ms = pa.array([t], pa.timestamp("ms", tz="UTC"))
    assert micros(us).tolist() == [expected]
    assert micros(ms).tolist() == [expected]
    assert micros(pa.chunked_array([us, us])).tolist() == [expected, expected]


def test_node_index_unknown_is_minus_one():
    ids = np.array(["a", "b", "c"], dtype=object)
    assert node_index(ids, pa.array(["c", "x", "a", None])).tolist() == [2, -1, 0, -1]


def test_node_index_casts_non_string_ids():
    ids = pa.array(["1", "2", "3"])
    assert node_index(ids, pa.array([3, 1, 9], pa.int64())).tolist() == [2, 0, -1]


def test_node_indexes_equals_node_index_per_column():
    ids = pa.array(["u0", "u1", "u2", "u3"])
    a = pa.chunked_array([pa.array(["u3", "zz"]), pa.array(["u0"])])
    b = pa.array(["u1", None, "u2"])
    got = node_indexes(ids, a, b)
    assert [g.tolist() for g in got] == [node_index(ids, a).tolist(), node_index(ids, b).tolist()]
    assert [g.tolist() for g in got] == [[3, -1, 0], [1, -1, 2]]
    assert node_indexes(ids) == []
