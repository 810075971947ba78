"""Realistic, deterministic demo data for KOC Graph (``koc synth``).

A generated data set has heavy-tailed activity, friend circles and store
neighbourhoods, sales guides serving their store's customers, a few KOLs with
huge audiences that convert poorly, planted KOCs whose shares convert well,
forward cascades, referral chains, refunds, repeat purchases, planted referral
fraud and a file of deliberately broken rows; plus a ground truth that
evaluation reads and the pipeline never does. :func:`generate_adversarial` writes a
second, adversarial world (``koc synth --world adversarial``) with a held-out month.
See ``docs/synth.md``.
"""

from graph.synth._adv_params import OBSERVABILITY, AdversarialParams, AdvSegment
from graph.synth._params import (
    BEHAVIOUR,
    MONTHS,
    WINDOW_END,
    WINDOW_START,
    Segment,
    SynthParams,
)
from graph.synth._truth import gmv_column
from graph.synth.adversarial import generate_adversarial
from graph.synth.generator import MIN_USERS, ProgressFn, SynthResult, generate

__all__ = [
    "generate",
    "generate_adversarial",
    "AdversarialParams",
    "AdvSegment",
    "OBSERVABILITY",
    "SynthParams",
    "SynthResult",
    "ProgressFn",
    "Segment",
    "BEHAVIOUR",
    "MONTHS",
    "WINDOW_START",
    "WINDOW_END",
    "MIN_USERS",
    "gmv_column",
]
