"""The reports' chart: decisions per hour (or per day in the week report), stacked by decision,
drawn by matplotlib as SVG.

matplotlib (Agg, no display) renders it on the server, so the page, its print and its PDF show
the same picture with no script. Chinese labels need a CJK font: Noto Sans CJK (Debian's
fonts-noto-cjk) when installed, else matplotlib's own font (labels then fall back to boxes,
numbers stay readable).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from functools import cache

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import font_manager

COLOURS = {"passes": "#2f8f4e", "manual_passes": "#8cc084", "emergency_opens": "#e0a100",
           "manual_denies": "#e58f86", "denies": "#b3261e"}
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Micro Hei", "Source Han Sans SC")


@cache
def _font() -> list[str]:
    have = {f.name for f in font_manager.fontManager.ttflist}
    return [f for f in CJK_FONTS if f in have] + ["DejaVu Sans"]


def hourly_svg(per_hour: Mapping[str, Sequence[int]], names: Mapping[str, str], title: str,
               labels: Sequence[str] | None = None) -> str:
    """A stacked bar per hour (bottom up in ``COLOURS``' order), as an inline SVG document; ``labels``
    name the bars when they are not the hours 00–23 (the week's days)."""
    hours = len(next(iter(per_hour.values()), []))
    with plt.rc_context({"font.family": _font(), "svg.fonttype": "none", "font.size": 9}):
        fig, ax = plt.subplots(figsize=(9, 2.8), dpi=100)
        bottom = [0] * hours
        for key, colour in COLOURS.items():
            values = list(per_hour.get(key, [0] * hours))
            ax.bar(range(hours), values, bottom=bottom, color=colour, width=0.8, label=names.get(key, key))
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        for x, total in enumerate(bottom):
            if total:
                ax.text(x, total, str(total), ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(hours), list(labels) if labels else [f"{h:02d}" for h in range(hours)])
        ax.set_xlim(-0.6, hours - 0.4)
        ax.set_title(title, loc="left", fontsize=10)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(ncols=5, fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(0, -0.12))
        fig.subplots_adjust(left=0.07, right=0.99, top=0.88, bottom=0.25)   # fixed: tight_layout draws twice
        out = io.StringIO()
        fig.savefig(out, format="svg")
        plt.close(fig)
    svg = out.getvalue()
    return svg[svg.index("<svg"):]
