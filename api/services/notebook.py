"""Service functions behind the analyst notebooks (``notebooks/*.ipynb``).

The notebooks only select, filter and plot; everything they compute comes from
here or from the packages (:mod:`influence`, :mod:`referral`,
:mod:`api.services.ranking`, :mod:`api.services.roles`). :func:`demo_store` builds
a complete demo store in a scratch folder (synth -> ingest -> KOL list -> rank ->
commissions), so a notebook runs from a clean checkout and leaves no files behind.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow.compute as pc

from api.services.leaderboard import leaderboard, resolve_run
from api.services.ranking import run_ranking
from api.services.roles import import_roles
from graph.duckdb_store import DuckDBStore
from graph.errors import ConfigError
from graph.events import EventType
from graph.ingest import ingest_files
from graph.snapshot import GraphSnapshot
from graph.store import GraphStore
from graph.synth import SynthParams, generate
from influence.communities import top_spreaders
from referral.attribution import attribute
from referral.ledger import Ledger
from referral.ledger_query import HOLD_CHECKS, EntryFilter, Totals
from referral.rules import CommissionRules, default_rules
from referral.service import open_ledger

__all__ = [
    "DemoData",
    "project_root",
    "shared_data_dir",
    "demo_store",
    "head_lines",
    "order_arrays",
    "spend_vs_koc",
    "community_spreaders",
    "ledger_timeseries",
    "hold_reasons",
    "HOLD_CHECKS",
    "top_beneficiaries",
    "top_referrers",
    "what_if",
]

_CN = ZoneInfo("Asia/Shanghai")
#: The two demo months compared by the "rising and falling KOCs" analysis.
DEMO_WINDOWS: dict[str, tuple[datetime, datetime]] = {
    "2026-09": (datetime(2026, 9, 1, tzinfo=_CN), datetime(2026, 10, 1, tzinfo=_CN)),
    "2026-10": (datetime(2026, 10, 1, tzinfo=_CN), datetime(2026, 11, 1, tzinfo=_CN)),
}


@dataclass
class DemoData:
    """A demo store and where its inputs came from.

    Attributes
    ----------
    store : graph.duckdb_store.DuckDBStore
        Open store holding the events, three ranking runs and the commission ledger.
    data_dir : pathlib.Path
        The generated files (``koc synth`` layout, ground truth included).
    runs : dict of str to str
        Run id per name: ``"2026-09"``, ``"2026-10"`` (one month each) and ``"all"``
        (the whole window, the latest run).
    kol_fee : decimal.Decimal
        The contract fee assumed for every KOL on the imported KOL list.
    """

    store: DuckDBStore
    data_dir: Path
    runs: dict[str, str] = field(default_factory=dict)
    kol_fee: Decimal = Decimal("3000.00")

    @property
    def truth_users(self) -> Path:
        """The generator's per-user ground truth (read only to judge)."""
        return self.data_dir / "ground_truth_users.parquet"


def project_root(start: str | Path | None = None) -> Path:
    """The KOC Graph checkout containing ``start`` (default: the working directory).

    Raises
    ------
    ConfigError
        No parent folder holds both ``pyproject.toml`` and ``graph/store.py``.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "graph" / "store.py").is_file():
            return folder
    raise ConfigError(
        f"{here} is not inside a KOC Graph checkout (no pyproject.toml beside graph/).",
        key="start",
    )


def shared_data_dir(start: str | Path | None = None) -> Path | None:
    """``../shared/data`` beside the project root, or None when it is absent."""
    path = project_root(start).parent / "shared" / "data"
    return path if path.is_dir() else None


def head_lines(src: str | Path, dst: str | Path, rows: int) -> int:
    """Copy the first ``rows`` lines of a (gzip) text file to ``dst`` (gzip when it ends in .gz).

    For a quick look at a large time-sorted public file (the Higgs activity file is
    sorted by time, so its head is its first days). Returns the lines written.
    """
    if int(rows) < 1:
        raise ConfigError(
            f"The 'rows' parameter of head_lines must be >= 1. Got {rows!r}.", key="rows"
        )

    def _open(path: Path, mode: str) -> Any:
        return gzip.open(path, mode) if path.suffix == ".gz" else path.open(mode)

    written = 0
    with _open(Path(src), "rb") as fin, _open(Path(dst), "wb") as fout:
        for line in fin:
            fout.write(line)
            written += 1
            if written >= int(rows):
                break
    return written


def _write_kol_list(data_dir: Path, out: Path, fee: Decimal) -> int:
    kols = json.loads((data_dir / "ground_truth.json").read_text("utf-8")).get("kols", [])
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["user_id", "agency", "contract_start", "fee", "currency"])
        for user in kols:
            writer.writerow([user, "Demo Agency", "2026-06-01", f"{fee:.2f}", "CNY"])
    return len(kols)


def demo_store(
    workdir: str | Path,
    *,
    users: int = 4000,
    seed: int = 7,
    kol_fee: Decimal | str = "3000.00",
    rules: CommissionRules | None = None,
) -> DemoData:
    """Generate demo data and run the whole pipeline into a store under ``workdir``.

    Steps: ``koc synth`` (``users``, ``seed``) -> ingest the event files -> import a
    KOL list (the generator's KOLs, each with contract fee ``kol_fee`` CNY, an
    assumption of the demo) -> rank September and October 2026 (China time) and
    the whole window -> attribute commissions with ``rules`` (default: the shipped
    rules).

    Parameters
    ----------
    workdir : str or Path
        Scratch folder (e.g. a ``tempfile.TemporaryDirectory``); receives ``demo/``
        and ``koc.duckdb``.
    users, seed : int
        Size and seed of the generated population.
    kol_fee : Decimal or str
    rules : CommissionRules, optional

    Returns
    -------
    DemoData
        The caller closes ``store`` when done.
    """
    work = Path(workdir)
    data_dir = work / "demo"
    generate(data_dir, SynthParams(users=int(users), seed=int(seed)))
    store = DuckDBStore(work / "koc.duckdb")
    try:
        ingest_files(store, sorted(data_dir.glob("*.csv.gz")))
        fee = Decimal(str(kol_fee))
        kol_csv = work / "kols.csv"
        if _write_kol_list(data_dir, kol_csv, fee):
            import_roles(store, kol_csv, kind="kol")
        runs = {
            name: run_ranking(store, start=start, end=end).run_id
            for name, (start, end) in DEMO_WINDOWS.items()
        }
        runs["all"] = run_ranking(store).run_id
        ledger = Ledger.open(store, read_only=False)
        attribute(store, ledger, rules or default_rules())
    except BaseException:
        store.close()
        raise
    return DemoData(store=store, data_dir=data_dir, runs=runs, kol_fee=fee)


def order_arrays(
    store: GraphStore,
    snapshot: GraphSnapshot,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Buyer node index (-1: not in the snapshot) and UTC epoch µs of every order.

    The arrays :func:`influence.ego.ego_network` takes to mark who bought.
    """
    orders = store.read_events(EventType.ORDER, start, end)
    buyer = snapshot.index_of(orders.column("buyer").to_pylist())
    ts = np.asarray(pc.cast(orders.column("ts"), "int64").to_numpy(), dtype=np.int64)
    return buyer, ts


def _whole_leaderboard(store: GraphStore, run_id: str) -> list[dict[str, Any]]:
    """Every consumer leaderboard row of a run, page by page (10,000 rows a page)."""
    rows: list[dict[str, Any]] = []
    while True:
        after = rows[-1]["rank"] if rows else None
        page = leaderboard(store, run_id=run_id, limit=10_000, after_rank=after)
        rows.extend(page)
        if len(page) < 10_000:
            return rows


def spend_vs_koc(store: GraphStore, run_id: str | None = None, *, k: int = 50) -> dict[str, Any]:
    """Compare the consumer KOC leaderboard with a spend-only ranking (a classic CRM).

    Spend-only ranks consumers by their own net spend (orders minus refunds over
    the run's window); staff are left out of both lists, as on the leaderboard.

    Parameters
    ----------
    store : GraphStore
    run_id : str, optional
        Default: the latest succeeded run.
    k : int
        Length of both top lists.

    Returns
    -------
    dict
        ``run_id``, ``k``, ``overlap`` (users in both top-k lists), ``missed``
        (leaderboard rows of the top-k KOCs outside the spend top-k, each with
        ``net_spend`` and ``spend_rank``, None when they never bought),
        ``spend_top`` (``user_id``, ``net_spend``) and ``points`` (``score`` and
        ``net_spend`` arrays of every ranked consumer, for a scatter plot).
    """
    run = resolve_run(store, run_id)
    board = _whole_leaderboard(store, run.run_id)
    spend = store.read_spend(run.window_start, run.window_end)
    net = dict(
        zip(
            spend.column("user_id").to_pylist(),
            (Decimal(v) for v in pc.cast(spend.column("net"), "string").to_pylist()),
            strict=True,
        )
    )
    consumers = [row["user_id"] for row in board]
    by_spend = sorted((u for u in consumers if u in net), key=lambda u: (-net[u], u))
    spend_rank = {u: i + 1 for i, u in enumerate(by_spend)}
    top_spend = set(by_spend[:k])
    top_koc = board[:k]
    missed = [
        {**row, "net_spend": net.get(row["user_id"]), "spend_rank": spend_rank.get(row["user_id"])}
        for row in top_koc
        if row["user_id"] not in top_spend
    ]
    return {
        "run_id": run.run_id,
        "k": int(k),
        "overlap": sum(row["user_id"] in top_spend for row in top_koc),
        "missed": missed,
        "spend_top": [{"user_id": u, "net_spend": net[u]} for u in by_spend[:k]],
        "points": {
            "score": np.array([row["score"] for row in board], dtype=np.float64),
            "net_spend": np.array([float(net.get(u, 0)) for u in consumers], dtype=np.float64),
        },
    }


def community_spreaders(
    store: GraphStore, run_id: str | None = None, *, communities: int = 6, k: int = 3
) -> list[dict[str, Any]]:
    """The largest communities of a run and their top spreaders by KOC score.

    Returns
    -------
    list of dict
        One per community, largest first: ``community``, ``size`` (ranked users),
        ``top`` (``k`` user ids, best first, via
        :func:`influence.communities.top_spreaders`) and ``top_scores``.
    """
    run = resolve_run(store, run_id)
    scores = store.read_scores(run.run_id)
    comm = scores.column("community")
    if comm.null_count == len(comm):
        return []
    labels = np.asarray(comm.fill_null(-1).to_numpy(), dtype=np.int64)
    score = np.asarray(scores.column("score").to_numpy(), dtype=np.float64)
    users = np.asarray(scores.column("user_id").to_pylist(), dtype=object)
    valid = labels >= 0
    sizes = np.bincount(labels[valid])
    largest = np.argsort(-sizes, kind="stable")[: int(communities)]
    best = top_spreaders(np.where(valid, labels, -1), score, k=int(k))
    return [
        {
            "community": int(c),
            "size": int(sizes[c]),
            "top": users[best[int(c)]].tolist(),
            "top_scores": score[best[int(c)]].tolist(),
        }
        for c in largest
        if sizes[c] > 0
    ]


def _ledger_rows(
    store_or_ledger: Any, totals: Totals, where: EntryFilter | None = None
) -> list[dict[str, Any]]:
    """Rows of one aggregate query over the ledger (:meth:`Ledger.totals`)."""
    with open_ledger(store_or_ledger) as ledger:
        table = ledger.totals(totals, where)
        return table.to_pylist() if table.num_rows else []


def ledger_timeseries(store_or_ledger: Any, *, unit: str = "week") -> list[dict[str, Any]]:
    """Ledger amounts per time bucket and entry kind (commissions, bonuses, reversals).

    Parameters
    ----------
    store_or_ledger : GraphStore or Ledger
    unit : {"day", "week", "month"}
        Bucket of the entry's event time (order or refund time), in China time.

    Returns
    -------
    list of dict
        ``bucket`` (date), ``kind``, ``entries`` and ``amount`` (Decimal; reversals
        negative), ordered by bucket and kind.
    """
    if unit not in {"day", "week", "month"}:
        raise ConfigError(
            f"The 'unit' parameter of ledger_timeseries must be day, week or month. Got {unit!r}.",
            key="unit",
        )
    return _ledger_rows(
        store_or_ledger,
        Totals(
            measures={"entries": "entries", "amount": "net"},
            by={"bucket": unit, "kind": "kind"},
            order=("bucket", "kind"),
        ),
    )


def hold_reasons(store_or_ledger: Any, *, by: str = "check") -> list[dict[str, Any]]:
    """Held entries grouped by the checks that held them (``by="check"``) or by full reason.

    With ``by="check"`` the group key names every check the hold recorded (its kinds,
    :data:`HOLD_CHECKS`), joined by ``+`` (``"self-referral+ring"``; ``"other"`` when
    it recorded none). Items: ``reason``, ``entries``, ``beneficiaries`` and ``amount``
    (Decimal), most entries first.
    """
    if by not in {"check", "reason"}:
        raise ConfigError(
            f"The 'by' parameter of hold_reasons must be check or reason. Got {by!r}.", key="by"
        )
    return _ledger_rows(
        store_or_ledger,
        Totals(
            measures={"entries": "entries", "beneficiaries": "beneficiaries", "amount": "net"},
            by={"reason": "hold_checks" if by == "check" else "hold_reason"},
            order=("-entries", "reason"),
        ),
        EntryFilter(held=True),
    )


def top_beneficiaries(
    store_or_ledger: Any, *, model: str | None = "referral", limit: int = 10
) -> list[dict[str, Any]]:
    """Beneficiaries with the largest net amounts: ``beneficiary``, ``role``, ``entries``, ``net``.

    ``model`` restricts to ``"referral"`` or ``"share"`` entries (None: both).
    """
    return _ledger_rows(
        store_or_ledger,
        Totals(
            measures={"role": "any_role", "entries": "entries", "net": "net"},
            by={"beneficiary": "beneficiary"},
            order=("-net", "beneficiary"),
            limit=int(limit),
        ),
        EntryFilter(model=model),
    )


def top_referrers(store: GraphStore, *, limit: int = 10) -> list[dict[str, Any]]:
    """Users with the most distinct direct referees: ``user_id``, ``referees``.

    Counts every referral event (not only the first referral of each referee), so it
    is a quick way to find candidates for :func:`referral.tree.downline_graph`.
    Ties: smaller user id first.
    """
    refs = store.read_events(EventType.REFERRAL).select(["referrer", "referee"])
    if refs.num_rows == 0:
        return []
    counts = refs.group_by("referrer").aggregate([("referee", "count_distinct")])
    counts = counts.rename_columns(["user_id", "referees"]).sort_by(
        [("referees", "descending"), ("user_id", "ascending")]
    )
    return counts.slice(0, int(limit)).to_pylist()


#: Per beneficiary role totals of one what-if scenario (:func:`what_if`).
_SCENARIO_TOTALS = Totals(
    measures={
        "entries": "entries",
        "beneficiaries": "beneficiaries",
        "commissions": "commissions",
        "reversals": "reversals",
        "net": "net",
        "held": "held",
    },
    by={"role": "role"},
    order=("role",),
)


def what_if(
    store: GraphStore, scenarios: Mapping[str, CommissionRules], workdir: str | Path
) -> list[dict[str, Any]]:
    """Attribute the same orders under several rule sets, each into its own ledger.

    Each scenario gets a scratch ledger file ``workdir/whatif-<i>.duckdb`` (the
    store's own ledger is not touched), filled by :func:`referral.attribute`.

    Returns
    -------
    list of dict
        Per scenario and beneficiary role: ``scenario``, ``role``, ``entries``,
        ``beneficiaries``, ``commissions`` (commissions and bonuses), ``reversals``
        (negative), ``net`` and ``held`` (Decimals).
    """
    rows: list[dict[str, Any]] = []
    for i, (name, rules) in enumerate(scenarios.items()):
        with Ledger.open(store, Path(workdir) / f"whatif-{i}.duckdb", read_only=False) as ledger:
            attribute(store, ledger, rules)
            totals = _ledger_rows(ledger, _SCENARIO_TOTALS)
        rows.extend({"scenario": name, **row} for row in totals)
    return rows
