"""Balance bar charts: each territory's value against the mean and its band.

One panel per measure. Bars are sorted from largest to smallest; the mean
is a dark line and the tolerance band (``mean × (1 ± tolerance)``) a shaded
strip, so a reader sees at a glance how many territories sit outside it.
Bars inside the band are blue, above it orange, below it purple. matplotlib
runs on its Agg backend only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from territory.services.maps import figure_png

__all__ = ["BalancePanel", "draw_balance_bars", "within_band"]

_INSIDE, _ABOVE, _BELOW = "#4c78a8", "#f58518", "#8e6bb5"


@dataclass(frozen=True, slots=True)
class BalancePanel:
    """One measure to chart: a label and its values per territory (shape (n,))."""

    label: str
    values: npt.NDArray[np.float64]


def within_band(
    values: npt.NDArray[np.float64], tolerance: float
) -> npt.NDArray[np.int8]:
    """Return -1 / 0 / +1 per value: below, inside or above ``mean × (1 ± tol)``.

    Examples
    --------
    >>> within_band(np.array([8.0, 10.0, 12.0]), 0.1).tolist()
    [-1, 0, 1]
    """
    mean = float(np.mean(values)) if values.size else 0.0
    low, high = mean * (1 - tolerance), mean * (1 + tolerance)
    out = np.zeros(values.size, dtype=np.int8)
    out[values < low - 1e-12 * abs(mean)] = -1
    out[values > high + 1e-12 * abs(mean)] = 1
    return out


def _fmt(v: float) -> str:
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.1f}B"
    if a >= 1e6:
        return f"{v / 1e6:.1f}M"
    if a >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:,.0f}" if a >= 10 else f"{v:.2f}"


def draw_balance_bars(
    panels: Sequence[BalancePanel],
    *,
    tolerance: float,
    columns: int = 2,
    panel_size_in: tuple[float, float] = (5.6, 2.9),
) -> bytes:
    """Draw one bar chart per panel against its mean and band; return PNG bytes."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    rows = max(1, -(-len(panels) // columns))
    fig = Figure(
        figsize=(panel_size_in[0] * columns, panel_size_in[1] * rows + 0.5), dpi=110
    )
    axes = fig.subplots(rows, columns, squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        if k >= len(panels):
            ax.set_axis_off()
            continue
        panel = panels[k]
        v = np.sort(np.nan_to_num(panel.values.astype(np.float64)))[::-1]
        n = v.size
        mean = float(v.mean()) if n else 0.0
        side = within_band(v, tolerance)
        x = np.arange(n + 1) - 0.5
        if n > 60:
            # Sorted values put each colour in one run: three filled step
            # outlines draw as fast as three artists, not n bar patches.
            for colour, where in ((_ABOVE, 1), (_INSIDE, 0), (_BELOW, -1)):
                run = np.flatnonzero(side == where)
                if run.size:
                    lo, hi = int(run[0]), int(run[-1]) + 1
                    ax.stairs(v[lo:hi], x[lo : hi + 1], fill=True, color=colour)
        else:
            colours = np.where(side > 0, _ABOVE, np.where(side < 0, _BELOW, _INSIDE))
            ax.bar(np.arange(n), v, width=0.8, color=colours, linewidth=0)
        ax.axhspan(
            mean * (1 - tolerance), mean * (1 + tolerance), color="#54a24b", alpha=0.16
        )
        ax.axhline(mean, color="#222222", linewidth=1.0)
        inside = int((side == 0).sum())
        ax.set_title(
            f"{panel.label}: {inside} of {n} within ±{tolerance:.0%}",
            fontsize=10,
            loc="left",
        )
        ax.set_xlim(-0.6, n - 0.4)
        ax.set_xticks([])
        ax.set_xlabel("territories, largest first", fontsize=8, color="#555555")
        ax.tick_params(axis="y", labelsize=8)
        ax.yaxis.set_major_formatter(lambda y, _pos: _fmt(y))
        for spine in ("top", "right"):
            ax.spines[spine].set_visible(False)
        ax.text(
            n - 0.4,
            mean,
            f" mean {_fmt(mean)}",
            va="bottom",
            ha="right",
            fontsize=8,
            color="#222222",
        )
    fig.legend(
        handles=[
            Patch(color=_INSIDE, label="inside the band"),
            Patch(color=_ABOVE, label="above"),
            Patch(color=_BELOW, label="below"),
            Patch(color="#54a24b", alpha=0.3, label=f"mean ± {tolerance:.0%}"),
        ],
        loc="lower center",
        ncol=4,
        fontsize=8,
        frameon=False,
    )
    fig.subplots_adjust(
        left=0.07, right=0.98, top=0.93, bottom=0.1 + 0.05 / rows, hspace=0.45
    )
    return figure_png(fig)
