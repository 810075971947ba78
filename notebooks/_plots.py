"""Plotting and table helpers shared by the notebooks (display only, no analysis).

Everything the notebooks compute comes from the packages (``api.services.notebook``,
``influence``, ``referral``); this module only draws figures and prints tables so
the four notebooks look alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: figures are rendered to PNG in the notebook output

import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

__all__ = ["show", "print_table", "stacked_bars", "draw_ego", "draw_tree", "COLORS"]

#: One colour per score component (and a few extras), used across notebooks.
COLORS: dict[str, str] = {
    "pagerank": "#4C72B0",
    "reach": "#55A868",
    "conversion": "#C44E52",
    "conversion_rate": "#8172B2",
    "engagement": "#CCB974",
    "spend": "#64B5CD",
}

plt.rcParams.update({"figure.dpi": 100, "font.size": 11, "axes.titlesize": 13})


def show(fig: plt.Figure) -> None:
    """Display ``fig`` in the notebook as a PNG rendered by Agg, then free it."""
    from io import BytesIO

    from IPython.display import Image, display

    buf = BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    display(Image(data=buf.getvalue(), format="png"))


def _fmt(value: Any, floatfmt: str) -> str:
    if isinstance(value, float):
        return format(value, floatfmt)
    if value is None:
        return "-"
    return str(value)


def print_table(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    floatfmt: str = ".3f",
    width: int = 60,
) -> None:
    """Print ``rows`` as an aligned text table of ``columns`` (cells cut to ``width``)."""
    cells = [[_fmt(row.get(c), floatfmt)[:width] for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


def stacked_bars(
    ax: plt.Axes,
    labels: Sequence[str],
    parts: Mapping[str, Sequence[float]],
    *,
    colors: Mapping[str, str] | None = None,
    horizontal: bool = True,
    legend_right: bool = False,
) -> None:
    """Stacked bars, one per label, one segment per key of ``parts`` (with a legend).

    The legend goes below the axes, or to their right with ``legend_right``.
    """
    base = [0.0] * len(labels)
    pos = list(range(len(labels)))
    for name, values in parts.items():
        color = (colors or COLORS).get(name)
        if horizontal:
            ax.barh(pos, values, left=base, label=name, color=color)
        else:
            ax.bar(pos, values, bottom=base, label=name, color=color)
        base = [b + float(v) for b, v in zip(base, values, strict=True)]
    if horizontal:
        ax.set_yticks(pos, labels)
        ax.invert_yaxis()
    else:
        ax.set_xticks(pos, labels)
    if legend_right:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    else:
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(len(parts), 6), fontsize=9
        )


def _dot_legend(ax: plt.Axes, items: Sequence[tuple[str, str]], **kwargs: Any) -> None:
    """A legend of coloured dots (``(colour, label)`` pairs); a colour None draws a line."""
    handles = [
        Line2D([], [], color="#555555", label=label)
        if color is None
        else Line2D([], [], marker="o", ls="", color=color, label=label)
        for color, label in items
    ]
    ax.legend(handles=handles, fontsize=9, **kwargs)


def _node_colors(graph: nx.DiGraph, centre: str) -> list[str]:
    """Red for the centre, green for users who bought, grey for the others."""
    return [
        "#C44E52" if n == centre else ("#2CA02C" if d["bought"] else "#B0B0B0")
        for n, d in graph.nodes(data=True)
    ]


def _bold_label(ax: plt.Axes, text: str, xy: tuple[float, float], offset: tuple[int, int]) -> None:
    ax.annotate(
        text,
        xy,
        xytext=offset,
        textcoords="offset points",
        ha="center" if offset[0] == 0 else "left",
        va="bottom" if offset[0] == 0 else "center",
        fontsize=10,
        fontweight="bold",
        bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8},
    )


def draw_ego(graph: nx.DiGraph, ax: plt.Axes, title: str) -> None:
    """Draw an ego network from :func:`influence.ego.ego_network` as rings.

    The ego is red in the centre, hop-1 users on the inner ring, hop-2 users outside
    (next to the hop-1 user who reached them); users who bought after being reached
    are green, the others grey. Only the reach paths (edges from hop h to hop h + 1)
    are drawn, their width growing with the tie strength.
    """
    ego = graph.graph["ego"]
    hop = dict(graph.nodes(data="hop"))
    shells: list[list[str]] = [[ego]]
    for h in range(1, graph.graph["radius"] + 1):
        prev = {n: i for i, n in enumerate(shells[-1])}
        ring = [n for n in graph if hop[n] == h]
        parent = {
            n: min((prev[p] for p in graph.predecessors(n) if p in prev), default=len(prev))
            for n in ring
        }
        ring.sort(key=lambda n: (parent[n], n))
        if ring:
            shells.append(ring)
    pos = nx.shell_layout(graph, nlist=shells)
    paths = [(u, v) for u, v in graph.edges if hop[v] == hop[u] + 1]
    width = [0.5 + min(graph.edges[e]["weight"], 6.0) / 2 for e in paths]
    color = _node_colors(graph, ego)
    size = [600 if n == ego else 160 for n in graph.nodes]
    nx.draw_networkx_edges(
        graph, pos, edgelist=paths, ax=ax, width=width, alpha=0.45, arrowsize=9, node_size=160
    )
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_color=color, node_size=size, linewidths=0)
    _bold_label(ax, ego, pos[ego], (0, 12))
    _dot_legend(
        ax,
        [
            ("#C44E52", "the KOC (ego)"),
            ("#2CA02C", "reached, then bought"),
            ("#B0B0B0", "reached, did not buy"),
            (None, "reach path (inner ring = 1 hop)"),
        ],
        loc="lower left",
        bbox_to_anchor=(0.0, -0.08),
    )
    ax.set_title(title)
    ax.set_axis_off()


def _tidy_tree_layout(tree: nx.DiGraph, root: str) -> dict[str, tuple[float, float]]:
    """Leaves left to right in depth-first order, parents centred over their children."""
    pos: dict[str, tuple[float, float]] = {}
    next_x = [0.0]

    def place(node: str, depth: int) -> float:
        kids = sorted(tree.successors(node))
        if not kids:
            x = next_x[0]
            next_x[0] += 1.0
        else:
            xs = [place(k, depth + 1) for k in kids]
            x = (xs[0] + xs[-1]) / 2
        pos[node] = (x, -float(depth))
        return x

    place(root, 0)
    return pos


def draw_tree(graph: nx.DiGraph, ax: plt.Axes, title: str) -> None:
    """Draw a referral tree from :func:`referral.tree.downline_graph`, one row per level."""
    root = graph.graph["root"]
    pos = _tidy_tree_layout(graph, root)
    color = _node_colors(graph, root)
    nx.draw_networkx_edges(graph, pos, ax=ax, alpha=0.4, arrowsize=8, node_size=120)
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_color=color, node_size=120, linewidths=0)
    _bold_label(ax, root, pos[root], (10, 0))
    levels = sorted({d["level"] for _, d in graph.nodes(data=True)})
    ax.set_yticks([-lv for lv in levels], [f"level {lv}" for lv in levels])
    ax.tick_params(left=True, labelleft=True, bottom=False, labelbottom=False)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    _dot_legend(
        ax,
        [
            ("#C44E52", "top referrer"),
            ("#2CA02C", "referee who bought"),
            ("#B0B0B0", "referee, no order"),
        ],
        loc="upper right",
    )
    ax.set_title(title)
