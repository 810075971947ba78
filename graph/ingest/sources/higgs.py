"""The SNAP Higgs Twitter activity file as KOC Graph events.

``higgs-activity_time.txt.gz`` holds space-separated lines ``userA userB unix_ts type``
(De Domenico, Lima, Mougel, Musolesi, "The Anatomy of a Scientific Rumor",
Scientific Reports 3, 2013). They map onto the event model as follows; influence
flows from B to A in every case:

======  =============================  ===========================================
type    KOC record                     fields
======  =============================  ===========================================
``RT``  ``forward`` (A retweeted B)    ``forwarder`` = A, ``from_user`` = B
``RE``  ``comment`` (A replied to B)   ``commenter`` = A, ``on_user`` = B
``MT``  ``comment`` (A mentioned B),   ``commenter`` = A, ``on_user`` = B
        a *weak* comment
======  =============================  ===========================================

``content_id`` is ``higgs:<B>`` (the dataset has no tweet ids: all of B's tweets
count as one piece of content) and ``channel`` is ``twitter-retweet``,
``twitter-reply`` or ``twitter-mention``, so a mention and a reply between the
same users in the same second stay two distinct events, and a consumer of the
graph can down-weight mentions by channel.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from graph.ingest.mapping import ColumnMapping
from graph.ingest.readers import CsvReader, RawBatch

__all__ = ["HiggsReader", "HIGGS_MAPPING", "HIGGS_COLUMNS"]

#: The file has no header; these are its columns.
HIGGS_COLUMNS = ["user_a", "user_b", "unix_ts", "kind"]

HIGGS_MAPPING = ColumnMapping.from_dict(
    {
        "columns": {
            "kind": "type",
            "unix_ts": "ts",
            "higgs_content": "content_id",
            "higgs_channel": "channel",
        },
        "type_values": {"RT": "forward", "RE": "comment", "MT": "comment"},
        "types": {
            "forward": {"columns": {"user_a": "forwarder", "user_b": "from_user"}},
            "comment": {"columns": {"user_a": "commenter", "user_b": "on_user"}},
        },
    },
    origin="higgs",
)

_CHANNELS = {"RT": "twitter-retweet", "RE": "twitter-reply", "MT": "twitter-mention"}


class HiggsReader(CsvReader):
    """Reads the activity file in batches and adds ``higgs_content`` / ``higgs_channel``."""

    def __init__(self, path: Path, batch_rows: int) -> None:
        super().__init__(path, batch_rows, names=list(HIGGS_COLUMNS), delimiter=" ")

    def __iter__(self) -> Iterator[RawBatch]:
        for batch in super().__iter__():
            t = batch.table
            content = pc.binary_join_element_wise("higgs:", t.column("user_b"), "")
            kind = t.column("kind")
            channel = pa.nulls(t.num_rows, pa.string())
            for code, name in _CHANNELS.items():
                channel = pc.if_else(pc.equal(kind, code), name, channel)
            t = t.append_column("higgs_content", content).append_column("higgs_channel", channel)
            yield RawBatch(t, batch.rows, batch.bad)
