"""Loaders for public datasets whose files are not in KOC Graph's own format.

Each source provides a reader (raw batches) and a :class:`ColumnMapping` onto the
event model, so its rows pass through the same validation as any other input.
"""

from __future__ import annotations

from graph.ingest.sources.beibei import BEIBEI_MAPPING, BeibeiReader
from graph.ingest.sources.higgs import HIGGS_MAPPING, HiggsReader

__all__ = ["SOURCES", "HiggsReader", "HIGGS_MAPPING", "BeibeiReader", "BEIBEI_MAPPING"]

#: ``koc ingest --source NAME``: name -> (reader class, mapping)
SOURCES = {
    "higgs": (HiggsReader, HIGGS_MAPPING),
    "beibei": (BeibeiReader, BEIBEI_MAPPING),
}
