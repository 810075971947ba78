"""Small inline SVG pictures for the web pages (no JavaScript, no front-end build).

Each function returns markup safe to insert into a Jinja2 template: every text
that came from data is escaped. Colours come from :data:`COMPONENT_COLORS`, the
same on every page and in the legend.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

__all__ = [
    "COMPONENT_COLORS",
    "COMPONENT_LABELS",
    "color_of",
    "stacked_bar",
    "rank_chart",
    "ego_chart",
]

#: one colour per score component (colour-blind-safe Okabe-Ito palette)
COMPONENT_COLORS: dict[str, str] = {
    "conversion": "#0072B2",
    "conversion_rate": "#56B4E9",
    "pagerank": "#009E73",
    "reach": "#E69F00",
    "engagement": "#CC79A7",
    "spend": "#D55E00",
}
#: what each component means, for the legend
COMPONENT_LABELS: dict[str, str] = {
    "conversion": "GMV driven",
    "conversion_rate": "conversion rate",
    "pagerank": "influence (PageRank)",
    "reach": "reach (3 hops)",
    "engagement": "engagement",
    "spend": "own spend",
}
_OTHER = "#8A94A6"


def color_of(component: str) -> str:
    """The colour of ``component`` (grey for one without its own)."""
    return COMPONENT_COLORS.get(component, _OTHER)


def stacked_bar(breakdown: dict[str, float], *, width: int = 180, height: int = 14) -> Markup:
    """One bar per row: each component's contribution to the score (0..1) as a segment."""
    x = 0.0
    parts = []
    for name, value in sorted(breakdown.items(), key=lambda kv: -kv[1]):
        w = max(0.0, float(value)) * width
        if w <= 0:
            continue
        label = f"{COMPONENT_LABELS.get(name, name)}: {value:.3f}"
        parts.append(
            f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" '
            f'fill="{color_of(name)}"><title>{escape(label)}</title></rect>'
        )
        x += w
    summary = ", ".join(
        f"{COMPONENT_LABELS.get(k, k)} {v:.2f}"
        for k, v in sorted(breakdown.items(), key=lambda kv: -kv[1])
        if v > 0
    )
    return Markup(
        f'<svg class="bar" role="img" aria-label="{escape(summary)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">'
        f'<rect width="{width}" height="{height}" fill="#EEF1F5"/>{"".join(parts)}</svg>'
    )


def rank_chart(history: list[dict[str, Any]], *, width: int = 560, height: int = 180) -> Markup:
    """A user's rank over recent runs (oldest left; rank 1 at the top)."""
    points = [h for h in reversed(history) if h.get("rank") is not None]
    if not points:
        return Markup('<p class="muted">No rank history yet.</p>')
    pad_l, pad_r, pad_t, pad_b = 48, 40, 16, 28
    ranks = [int(p["rank"]) for p in points]
    lo, hi = min(ranks), max(ranks)
    span = max(hi - lo, 1)
    inner_w, inner_h = width - pad_l - pad_r, height - pad_t - pad_b
    step = inner_w / max(len(points) - 1, 1)

    def y(rank: int) -> float:
        return pad_t + (rank - lo) / span * inner_h if hi > lo else pad_t + inner_h / 2

    if len(points) == 1:
        coords = [(pad_l + inner_w / 2, y(ranks[0]))]
    else:
        coords = [(pad_l + i * step, y(r)) for i, r in enumerate(ranks)]
    path = " ".join(
        f"{'M' if i == 0 else 'L'}{cx:.1f},{cy:.1f}" for i, (cx, cy) in enumerate(coords)
    )
    dots = "".join(
        f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="#0072B2"><title>'
        f"{escape(str(p['run_id']))}: rank {r}</title></circle>"
        f'<text x="{cx:.1f}" y="{cy - 8:.1f}" text-anchor="middle" class="lbl">{r}</text>'
        for (cx, cy), p, r in zip(coords, points, ranks, strict=True)
    )
    labels = "".join(
        f'<text x="{cx:.1f}" y="{height - 8}" text-anchor="middle" class="lbl">'
        f"{escape(str(p.get('created_at', ''))[:10])}</text>"
        for (cx, _), p in zip(coords, points, strict=True)
    )
    axis = (
        (
            f'<text x="8" y="{pad_t + 4}" class="lbl">#{lo}</text>'
            f'<text x="8" y="{pad_t + inner_h + 4}" class="lbl">#{hi}</text>'
            if hi > lo
            else f'<text x="8" y="{pad_t + inner_h / 2 + 4}" class="lbl">#{lo}</text>'
        )
        + f'<line x1="{pad_l}" y1="{pad_t + inner_h}" x2="{width - pad_r}" '
        f'y2="{pad_t + inner_h}" stroke="#D5DAE1"/>'
    )
    desc = ", ".join(
        f"{p.get('created_at', '')!s:.10} rank {r}" for p, r in zip(points, ranks, strict=True)
    )
    return Markup(
        f'<svg class="chart" role="img" aria-label="Rank history: {escape(desc)}" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMid meet">'
        f'{axis}<path d="{path}" fill="none" stroke="#0072B2" stroke-width="2"/>{dots}{labels}</svg>'
    )


_DIRECTION_COLORS = {"out": "#0072B2", "in": "#E69F00", "both": "#009E73"}


def ego_chart(ego: dict[str, Any], *, size: int = 420) -> Markup:
    """The user in the middle, the strongest ties around; colour = direction of influence."""
    neighbours = ego.get("neighbours") or []
    if not neighbours:
        return Markup('<p class="muted">No direct ties in the current data.</p>')
    margin = 90  # room for the labels left and right
    width = size + 2 * margin
    c, cx = size / 2, size / 2 + margin
    radius = size / 2 - 40
    top = max(n["weight"] for n in neighbours) or 1.0
    lines, nodes = [], []
    for i, n in enumerate(neighbours):
        angle = 2 * math.pi * i / len(neighbours) - math.pi / 2
        x, y = cx + radius * math.cos(angle), c + radius * math.sin(angle)
        color = _DIRECTION_COLORS.get(n["direction"], _OTHER)
        stroke = 1 + 5 * n["weight"] / top
        title = escape(
            f"{n['user_id']}: {n['direction']}, {', '.join(n['types'])}, weight {n['weight']:.2f}"
        )
        lines.append(
            f'<line x1="{cx:.1f}" y1="{c:.1f}" x2="{x:.1f}" y2="{y:.1f}" stroke="{color}" '
            f'stroke-width="{stroke:.1f}" stroke-opacity="0.7"><title>{title}</title></line>'
        )
        anchor = "start" if math.cos(angle) > 0.2 else "end" if math.cos(angle) < -0.2 else "middle"
        tx, ty = cx + (radius + 10) * math.cos(angle), c + (radius + 10) * math.sin(angle) + 4
        href = "/users/" + quote(str(n["user_id"]), safe="")
        nodes.append(
            f'<a href="{escape(href)}"><circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="{color}">'
            f'<title>{title}</title></circle><text x="{tx:.1f}" y="{ty:.1f}" '
            f'text-anchor="{anchor}" class="lbl">{escape(str(n["user_id"]))}</text></a>'
        )
    me = escape(str(ego["user_id"]))
    label = f"Ego network of {me}: {len(neighbours)} of {ego.get('ties', len(neighbours))} ties"
    return Markup(
        f'<svg class="ego" role="img" aria-label="{label}" viewBox="0 0 {width} {size}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet">{"".join(lines)}{"".join(nodes)}'
        f'<circle cx="{cx}" cy="{c}" r="12" fill="#1D2733"/>'
        f'<text x="{cx}" y="{c + 28}" text-anchor="middle" class="me">{me}</text></svg>'
    )
