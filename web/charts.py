"""Server-rendered inline SVG charts: no JavaScript, nothing to download, prints as it shows.

Four shapes are enough for the dashboard: step lines over dates (capacity over time), vertical
bars with labels (shares by month, aging of open referrals), horizontal bars for many or long
labels with an optional threshold line (equity rates by group), and bars grouped side by side
(referrals per month by event, utilization per service by month). Labels are escaped; the SVG
carries a ``<title>`` and ``role="img"`` so screen readers announce it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#1f5fa8", "#b42318", "#1b7a43", "#a86a00", "#6941c6", "#0e7490", "#c11574", "#475467")
_PAD_LEFT, _PAD_RIGHT, _PAD_TOP, _PAD_BOTTOM = 44, 12, 14, 34


@dataclass(frozen=True)
class Series:
    """A named line: ``points`` sorted by date; drawn as steps (a value holds until the next)."""

    name: str
    points: Sequence[tuple[dt.date, float]]
    dashed: bool = False


def _nice_max(value: float) -> float:
    """Round the axis top up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _y_axis(top: float, width: int, height: int, fmt: str) -> list[str]:
    plot_h = height - _PAD_TOP - _PAD_BOTTOM
    parts = []
    for i in range(5):
        value = top * i / 4
        y = _PAD_TOP + plot_h - plot_h * i / 4
        parts.append(f'<line class="grid" x1="{_PAD_LEFT}" x2="{width - _PAD_RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text x="{_PAD_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{escape(fmt.format(value))}</text>')
    parts.append(f'<line class="axis" x1="{_PAD_LEFT}" x2="{_PAD_LEFT}" y1="{_PAD_TOP}" y2="{_PAD_TOP + plot_h}"/>')
    return parts


def step_chart(series: Sequence[Series], *, title: str, width: int = 760, height: int = 240,
               start: dt.date | None = None, end: dt.date | None = None) -> Markup:
    """Step lines of values over dates, with a legend; empty series draw an empty frame.

    >>> s = Series("contracted", [(dt.date(2026, 1, 1), 10), (dt.date(2026, 2, 1), 12)])
    >>> "<path" in step_chart([s], title="Capacity")
    True
    """
    dates = [d for s in series for d, _ in s.points]
    lo = start or (min(dates) if dates else dt.date.today())
    hi = end or (max(dates) if dates else lo)
    if hi <= lo:
        hi = lo + dt.timedelta(days=1)
    top = _nice_max(max((v for s in series for _, v in s.points), default=0))
    plot_w = width - _PAD_LEFT - _PAD_RIGHT
    plot_h = height - _PAD_TOP - _PAD_BOTTOM
    span = (hi - lo).days

    def x(d: dt.date) -> float:
        return _PAD_LEFT + plot_w * (d - lo).days / span

    def y(v: float) -> float:
        return _PAD_TOP + plot_h - plot_h * v / top

    body = _y_axis(top, width, height, "{:.0f}")
    base = _PAD_TOP + plot_h
    body.append(f'<line class="axis" x1="{_PAD_LEFT}" x2="{width - _PAD_RIGHT}" y1="{base}" y2="{base}"/>')
    body.append(f'<text x="{_PAD_LEFT}" y="{height - 18}">{lo.isoformat()}</text>')
    body.append(f'<text x="{width - _PAD_RIGHT}" y="{height - 18}" text-anchor="end">{hi.isoformat()}</text>')
    for i, s in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        points = sorted(p for p in s.points if lo <= p[0] <= hi)
        if points:
            path = [f"M{x(points[0][0]):.1f},{y(points[0][1]):.1f}"]
            for d1, v1 in points[1:]:
                path.append(f"H{x(d1):.1f}V{y(v1):.1f}")
            path.append(f"H{x(hi):.1f}")
            dash = ' stroke-dasharray="6 4"' if s.dashed else ""
            body.append(f'<path d="{"".join(path)}" fill="none" stroke="{colour}" stroke-width="2"{dash}>'
                        f"<title>{escape(s.name)}</title></path>")
            for d, v in points:
                body.append(f'<circle cx="{x(d):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}">'
                            f"<title>{escape(s.name)}: {v:g} on {d.isoformat()}</title></circle>")
        lx = _PAD_LEFT + 150 * i
        body.append(f'<rect x="{lx}" y="{height - 11}" width="10" height="10" fill="{colour}"/>'
                    f'<text x="{lx + 14}" y="{height - 2}">{escape(s.name)}</text>')
    return _svg(width, height, title, body)


def bar_chart(bars: Sequence[tuple[str, float | None]], *, title: str, width: int = 760, height: int = 220,
              value_format: str = "{:.0f}", top: float | None = None,
              highlight: Sequence[bool] | None = None) -> Markup:
    """Vertical bars with their labels under them and values above them; None draws "no data".

    >>> "<rect" in bar_chart([("Jan", 0.8), ("Feb", None)], title="Share", value_format="{:.0%}", top=1)
    True
    """
    top = top or _nice_max(max((v for _, v in bars if v is not None), default=0))
    plot_w = width - _PAD_LEFT - _PAD_RIGHT
    plot_h = height - _PAD_TOP - _PAD_BOTTOM
    axis_format = "{:.0%}" if "%" in value_format else "{:.0f}"
    body = _y_axis(top, width, height, axis_format)
    slot = plot_w / max(1, len(bars))
    bar_w = max(2.0, min(48.0, slot * 0.7))
    for i, (label, value) in enumerate(bars):
        if value is None:
            cx = _PAD_LEFT + slot * i + slot / 2
            body.append(f'<text x="{cx:.1f}" y="{_PAD_TOP + plot_h - 4:.1f}" text-anchor="middle">no data</text>')
            body.append(f'<text x="{cx:.1f}" y="{height - 18}" text-anchor="middle">{escape(label)}</text>')
            continue
        h = plot_h * min(value, top) / top
        bx = _PAD_LEFT + slot * i + (slot - bar_w) / 2
        by = _PAD_TOP + plot_h - h
        colour = PALETTE[1] if highlight and highlight[i] else PALETTE[0]
        body.append(f'<rect x="{bx:.1f}" y="{by:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}">'
                    f"<title>{escape(label)}: {escape(value_format.format(value))}</title></rect>")
        body.append(f'<text x="{bx + bar_w / 2:.1f}" y="{by - 3:.1f}" text-anchor="middle">'
                    f"{escape(value_format.format(value))}</text>")
        body.append(f'<text x="{bx + bar_w / 2:.1f}" y="{height - 18}" text-anchor="middle">{escape(label)}</text>')
    return _svg(width, height, title, body)


def hbar_chart(bars: Sequence[tuple[str, float | None]], *, title: str, width: int = 760, value_format: str = "{:.0f}",
               top: float | None = None, highlight: Sequence[bool] | None = None,
               reference: tuple[float, str] | None = None, label_width: int = 210) -> Markup:
    """Horizontal bars, one row per label, so that many groups and long names stay legible; the value
    at the end of each bar; None draws "no data". ``reference`` ``(value, label)`` draws a dashed
    vertical line at ``value`` (a threshold, such as four fifths of the best group's rate).

    >>> svg = hbar_chart([("Asian", 0.9), ("White", None)], title="Rate", value_format="{:.0%}", top=1,
    ...                  reference=(0.72, "four fifths"))
    >>> svg.count("<rect"), "no data" in svg, 'class="reference"' in svg
    (1, True, True)
    """
    values = [v for _, v in bars if v is not None] + ([reference[0]] if reference else [])
    top = top or _nice_max(max(values, default=0))
    row, pad_top = 20, 24
    left, right = label_width, width - 44
    height = pad_top + row * max(1, len(bars)) + 20
    bottom = pad_top + row * max(1, len(bars))
    plot_w = right - left
    axis_format = "{:.0%}" if "%" in value_format else "{:.0f}"
    max_chars = max(4, label_width // 7)

    def x(value: float) -> float:
        return left + plot_w * min(value, top) / top

    body = []
    for i in range(5):
        gx = left + plot_w * i / 4
        body.append(f'<line class="grid" x1="{gx:.1f}" x2="{gx:.1f}" y1="{pad_top}" y2="{bottom}"/>')
        tick = escape(axis_format.format(top * i / 4))
        body.append(f'<text x="{gx:.1f}" y="{bottom + 14}" text-anchor="middle">{tick}</text>')
    body.append(f'<line class="axis" x1="{left}" x2="{left}" y1="{pad_top}" y2="{bottom}"/>')
    for i, (label, value) in enumerate(bars):
        y = pad_top + row * i
        shown = label if len(label) <= max_chars else label[: max_chars - 1].rstrip() + "…"
        body.append(f'<text x="{left - 6}" y="{y + row * 0.7:.1f}" text-anchor="end"><title>{escape(label)}</title>'
                    f"{escape(shown)}</text>")
        if value is None:
            body.append(f'<text x="{left + 4}" y="{y + row * 0.7:.1f}">no data</text>')
            continue
        colour = PALETTE[1] if highlight and highlight[i] else PALETTE[0]
        text = escape(value_format.format(value))
        body.append(f'<rect x="{left}" y="{y + 3}" width="{x(value) - left:.1f}" height="{row - 6}" fill="{colour}">'
                    f"<title>{escape(label)}: {text}</title></rect>")
        body.append(f'<text x="{x(value) + 4:.1f}" y="{y + row * 0.7:.1f}">{text}</text>')
    if reference is not None:
        rx = x(reference[0])
        anchor = "end" if rx > left + plot_w * 0.6 else "start"
        body.append(f'<line class="reference" x1="{rx:.1f}" x2="{rx:.1f}" y1="{pad_top - 6}" y2="{bottom}" '
                    f'stroke="{PALETTE[3]}" stroke-width="1.5" stroke-dasharray="6 4">'
                    f"<title>{escape(reference[1])}</title></line>")
        body.append(f'<text class="reference" x="{rx:.1f}" y="{pad_top - 10}" text-anchor="{anchor}" '
                    f'style="fill:{PALETTE[3]}">{escape(reference[1])}</text>')
    return _svg(width, height, title, body)


def grouped_bar_chart(groups: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *, title: str,
                      width: int = 760, height: int = 240, value_format: str = "{:.0f}",
                      top: float | None = None) -> Markup:
    """Bars side by side per group (one colour per series, with a legend); ``series`` are ``(name, values)``
    with one value per group; None leaves a gap.

    >>> svg = grouped_bar_chart(["Oct", "Nov"], [("received", [3, 4]), ("sent", [2, None])], title="Referrals")
    >>> svg.count("<rect") - 2  # three bars, and a legend swatch per series
    3
    """
    values = [v for _, vs in series for v in vs if v is not None]
    top = top or _nice_max(max(values, default=0))
    plot_w = width - _PAD_LEFT - _PAD_RIGHT
    plot_h = height - _PAD_TOP - _PAD_BOTTOM - 12  # room for the legend
    axis_format = "{:.0%}" if "%" in value_format else "{:.0f}"
    body = _y_axis(top, width, height - 12, axis_format)
    slot = plot_w / max(1, len(groups))
    bar_w = max(2.0, min(28.0, slot * 0.8 / max(1, len(series))))
    for i, label in enumerate(groups):
        left = _PAD_LEFT + slot * i + (slot - bar_w * len(series)) / 2
        for j, (name, vs) in enumerate(series):
            value = vs[i] if i < len(vs) else None
            if value is None:
                continue
            h = plot_h * min(value, top) / top
            bx, by = left + bar_w * j, _PAD_TOP + plot_h - h
            shown = escape(value_format.format(value))
            colour = PALETTE[j % len(PALETTE)]
            body.append(f'<rect x="{bx:.1f}" y="{by:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}">'
                        f"<title>{escape(label)}, {escape(name)}: {shown}</title></rect>")
            if bar_w >= 14:
                body.append(f'<text x="{bx + bar_w / 2:.1f}" y="{by - 3:.1f}" text-anchor="middle">{shown}</text>')
        body.append(f'<text x="{_PAD_LEFT + slot * i + slot / 2:.1f}" y="{height - 30}" text-anchor="middle">'
                    f"{escape(label)}</text>")
    for j, (name, _) in enumerate(series):
        lx = _PAD_LEFT + 120 * j
        body.append(f'<rect x="{lx}" y="{height - 11}" width="10" height="10" fill="{PALETTE[j % len(PALETTE)]}"/>'
                    f'<text x="{lx + 14}" y="{height - 2}">{escape(name)}</text>')
    return _svg(width, height, title, body)
