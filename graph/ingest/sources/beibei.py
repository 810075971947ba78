"""The BeiBei group-buying files as KOC Graph events (share-to-buy).

BeiBei is a social e-commerce platform where a user shares an item and friends buy
it through that share (J. Zhang, C. Gao, D. Jin, Y. Li, "Group-Buying
Recommendation for Social E-Commerce", ICDE 2021; MIT licence). Each line of
``test.txt``, ``tune.txt`` and ``invalid.txt`` is tab-separated::

    initiator_id <TAB> item_id [<TAB> participant_id ...]

A line with participants is a successful group, a line without (all of
``invalid.txt``) a share that converted nobody. Line ``n`` of file ``<stem>.txt``
becomes these records; influence flows from the initiator to each participant:

=========  ==================================  =========================================
record     fields                              value
=========  ==================================  =========================================
``share``  ``sharer``                          the initiator
           ``content_id``                      ``beibei:<item>@<initiator>``
           ``channel``                         ``beibei-<stem>``
           ``ts``                              ``BASE + n`` seconds
``view``   ``viewer`` / ``sharer``             the participant / the initiator
(each      ``content_id``, ``channel``         as the share
partic-    ``ts``                              ``BASE + n + 0.25`` seconds
ipant)
``order``  ``order_id``                        ``beibei-<stem>-<n>-<participant>``
(each      ``buyer``                           the participant
partic-    ``amount``, ``currency``            ``1.00`` ``CNY`` (the data has no prices)
ipant)     ``attribution_token``               the share's ``content_id``
           ``ts``                              ``BASE + n + 0.5`` seconds
=========  ==================================  =========================================

The data has **no prices and no timestamps**: every purchase is assumed to be
one unit of 1.00 CNY, and the line order is the time order, one line per second
from :data:`BEIBEI_BASE_TS` (2020-01-01 00:00 UTC; every file starts there). No
``referral`` records are made: joining a group is a purchase through a share, not
a sign-up through an invite. The file's name (``<stem>``) is part of the channel
and of the order id, so the same line number in two files never collides; keep
the file names when re-ingesting.

Event ids are derived from this content by the validator, so loading a file
again inserts nothing. A line that is not at least two tab-separated decimal ids
is quarantined whole (file, line, field, reason); the remaining rules (self-edges,
id length, ...) are the ordinary validation rules of every input. "Rows" in the
ingestion summary are the records above, so a line with ``k`` participants counts
``1 + 2k`` rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.errors import IngestError
from graph.ingest.mapping import ColumnMapping
from graph.ingest.readers import RawBatch, RawReject, Reader

__all__ = ["BeibeiReader", "BEIBEI_MAPPING", "BEIBEI_BASE_TS", "BEIBEI_AMOUNT", "parse_lines"]

#: Epoch seconds of line 0 of every file: 2020-01-01T00:00:00Z (the data has no times).
BEIBEI_BASE_TS = 1_577_836_800
#: Amount of every purchase (the data has no prices).
BEIBEI_AMOUNT = "1.00"
BEIBEI_CURRENCY = "CNY"
#: Files of the dataset that are not group-buying lines.
_NOT_DATA = {"data_size.txt": "the numbers of users and items", "license": "the licence"}
_ID = "^[0-9]+$"
_FIELDS = ("initiator", "item")

BEIBEI_MAPPING = ColumnMapping.from_dict(
    {
        # raw columns: type, initiator, participant, content, channel, ts, order_id
        "types": {
            "share": {"columns": {"initiator": "sharer", "content": "content_id"}},
            "view": {
                "columns": {"participant": "viewer", "initiator": "sharer", "content": "content_id"}
            },
            "order": {
                "columns": {"participant": "buyer", "content": "attribution_token"},
                "constants": {"amount": BEIBEI_AMOUNT, "currency": BEIBEI_CURRENCY},
            },
        },
    },
    origin="beibei",
)


def _stem(path: Path) -> str:
    name = path.name[:-3] if path.name.lower().endswith(".gz") else path.name
    return name.rsplit(".", 1)[0] if "." in name else name


def _text(raw: bytes, limit: int = 2048) -> str:
    return raw[:limit].decode("utf-8", errors="replace")


def parse_lines(chunk: bytes, first_line: int) -> tuple[pa.ListArray, np.ndarray, list[RawReject]]:
    """Split whole lines into fields, vectorised; refuse lines that are not BeiBei lines.

    Parameters
    ----------
    chunk : bytes
        Whole lines (the last one may lack its line break).
    first_line : int
        1-based line number of the first line of ``chunk``.

    Returns
    -------
    fields : pyarrow.ListArray
        ``list<string>`` of the good lines: initiator, item, participants.
    rows : numpy.ndarray
        Line number of each good line.
    bad : list of RawReject
        Lines with fewer than two fields or a field that is not a decimal id.
        Blank lines are neither (they are not rows).
    """
    if not chunk.endswith(b"\n"):
        chunk += b"\n"
    ends = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10)
    offsets = np.concatenate(([0], ends + 1)).astype(np.int64)
    n = len(ends)
    lines = pa.Array.from_buffers(  # zero-copy: one value per line, "\n" included
        pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(chunk)]
    )
    lines = pc.binary_slice(lines, 0, -1)  # drop the "\n"
    lines = pc.replace_substring_regex(lines, "[ \t\r]+$", "")  # trailing blanks, CRLF
    numbers = np.arange(first_line, first_line + n, dtype=np.int64)
    nonblank = pc.greater(pc.binary_length(lines), 0)
    if not pc.all(nonblank).as_py():
        lines = lines.filter(nonblank)
        numbers = numbers[nonblank.to_numpy(zero_copy_only=False)]
    fields = pc.split_pattern(lines, "\t")
    counts = pc.list_value_length(fields).to_numpy()
    flat_ok = pc.match_substring_regex(pc.list_flatten(fields), _ID).to_numpy(zero_copy_only=False)
    bad_lines: dict[int, RawReject] = {}
    for i in np.flatnonzero(counts < 2).tolist():
        bad_lines[i] = RawReject(
            int(numbers[i]),
            None,
            None,
            f"expected at least 2 tab-separated fields (initiator, item, participants), "
            f"found {counts[i]}",
            _text(lines[i].as_py()),
        )
    bad_flat = np.flatnonzero(~flat_ok)
    if len(bad_flat):
        starts = fields.offsets.to_numpy()[:-1] - fields.offsets[0].as_py()
        parent = np.repeat(np.arange(len(counts)), counts)[bad_flat]
        first_bad, at = np.unique(parent, return_index=True)
        for i, j in zip(first_bad.tolist(), bad_flat[at].tolist(), strict=True):
            if i in bad_lines:
                continue
            k = j - int(starts[i])
            name = _FIELDS[k] if k < len(_FIELDS) else "participant"
            value = fields[i][k].as_py()
            bad_lines[i] = RawReject(
                int(numbers[i]),
                name,
                _text(value, 200),
                f"not a BeiBei {name} id (expected decimal digits)",
                _text(lines[i].as_py()),
            )
    bad = [bad_lines[i] for i in sorted(bad_lines)]
    if bad:
        keep = np.ones(len(counts), dtype=bool)
        keep[sorted(bad_lines)] = False
        fields = fields.filter(pa.array(keep))
        numbers = numbers[keep]
    # every value left is ASCII digits: the cast to text cannot fail
    return fields.cast(pa.list_(pa.string())), numbers, bad


class BeibeiReader(Reader):
    """Streams a BeiBei file as batches of ``share``, ``view`` and ``order`` rows.

    Reads ``batch_rows`` lines at a time (``.gz`` transparently); each chunk of
    lines yields one batch of shares, then one batch of views and one of orders
    per participant position, so the row (line) numbers of a batch are unique.
    Progress is in bytes of the file.
    """

    def __init__(self, path: Path, batch_rows: int) -> None:
        super().__init__(path, batch_rows)
        what = _NOT_DATA.get(path.name.lower()) or _NOT_DATA.get(path.stem.lower())
        if what is not None:
            raise IngestError(
                f"{path} holds {what}, not group-buying lines; pass test.txt, tune.txt "
                "and/or invalid.txt to --source beibei.",
                path=str(path),
            )
        self.stem = _stem(path)
        self.channel = f"beibei-{self.stem}"

    def _chunks(self) -> Iterator[tuple[bytes, int]]:
        """``(whole lines, number of the first line)``, at most ``batch_rows`` lines each."""
        raw = pa.OSFile(str(self.path), "rb")
        gz = self.path.suffix.lower() == ".gz"
        stream = pa.CompressedInputStream(raw, "gzip") if gz else raw
        block = int(min(max(self.batch_rows * 24, 1 << 16), 1 << 24))
        line, buf, first = 1, b"", True
        try:
            while True:
                data = stream.read(block)
                eof = not data
                buf += data
                self.done = raw.tell()
                if first:
                    buf = buf.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark
                    first = False
                while buf:
                    ends = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
                    if len(ends) >= self.batch_rows:
                        cut = int(ends[self.batch_rows - 1]) + 1
                    elif eof:
                        cut = len(buf)
                    else:
                        break
                    chunk, buf = buf[:cut], buf[cut:]
                    yield chunk, line
                    line += chunk.count(b"\n") + (0 if chunk.endswith(b"\n") else 1)
                if eof:
                    return
        except OSError as exc:
            raise IngestError(
                f"Cannot read {self.path}: {exc} (is it really gzip-compressed?).",
                path=str(self.path),
            ) from exc
        finally:
            raw.close()

    def _ts(self, rows: np.ndarray, fraction: str) -> pa.Array:
        secs = pa.array(rows + BEIBEI_BASE_TS, pa.int64()).cast(pa.string())
        return pc.binary_join_element_wise(secs, fraction, "") if fraction else secs

    def _batch(self, kind: str, columns: dict[str, pa.Array], rows: np.ndarray) -> RawBatch:
        n = len(rows)
        table = pa.table({"type": pa.array([kind] * n, pa.string()), **columns})
        return RawBatch(table, rows)

    def __iter__(self) -> Iterator[RawBatch]:
        n_rows = 0
        for chunk, line in self._chunks():
            fields, rows, bad = parse_lines(chunk, line)
            initiator = pc.list_element(fields, 0) if len(rows) else pa.array([], pa.string())
            item = pc.list_element(fields, 1) if len(rows) else pa.array([], pa.string())
            content = pc.binary_join_element_wise("beibei:", item, "@", initiator, "")
            channel = pa.array([self.channel] * len(rows), pa.string())
            share = self._batch(
                "share",
                {
                    "initiator": initiator,
                    "content": content,
                    "channel": channel,
                    "ts": self._ts(rows, ""),
                },
                rows,
            )
            share.bad = bad
            n_rows += share.n_read
            yield share
            counts = pc.list_value_length(fields).to_numpy() if len(rows) else np.zeros(0)
            for k in range(int(counts.max(initial=2)) - 2):
                has = counts > 2 + k
                sub = pa.array(has)
                at, who, what = rows[has], initiator.filter(sub), content.filter(sub)
                participant = pc.list_element(fields.filter(sub), 2 + k)
                view = {
                    "initiator": who,
                    "participant": participant,
                    "content": what,
                    "channel": channel.filter(sub),
                    "ts": self._ts(at, ".25"),
                }
                order_id = pc.binary_join_element_wise(
                    f"beibei-{self.stem}-",
                    pa.array(at, pa.int64()).cast(pa.string()),
                    "-",
                    participant,
                    "",
                )
                order = {
                    "order_id": order_id,
                    "initiator": who,
                    "participant": participant,
                    "content": what,
                    "ts": self._ts(at, ".5"),
                }
                for kind, cols in (("view", view), ("order", order)):
                    batch = self._batch(kind, cols, at)
                    n_rows += batch.n_read
                    yield batch
        if n_rows == 0:
            self.warnings.append(f"{self.path}: the file is empty (no group-buying lines).")
