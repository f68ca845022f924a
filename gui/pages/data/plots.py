"""The pyqtgraph building blocks of the Data page: a time axis in the patient's local time, one
titled chart box per series (with its own "no data" sentence), heart-rate bands, bars, stacked
sleep bars, the hypnogram, and the device markers.

X values follow the charts contract: patient-local wall-clock seconds since 1970, so an axis that
formats seconds as UTC shows the patient's own clock, and so does every read-out.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gui.widgets import label

pg.setConfigOptions(antialias=True, background="w", foreground="#374151")

EMPTY_TEXT = "No data for this patient in these days"

# heart-rate sample kinds: colour and the words in the legend
KIND_STYLE: dict[str, tuple[str, str]] = {
    "sample": ("#2563eb", "All day"),
    "exercise": ("#ea580c", "During exercise"),
    "sleep": ("#7c3aed", "During sleep"),
}
RESTING_COLOUR = "#b91c1c"
STEPS_COLOUR = "#0f766e"
ACTIVITY_COLOUR = "#0891b2"
# sleep stages: colour, words, and the hypnogram level (awake on top)
STAGE_STYLE: dict[str, tuple[str, str, int]] = {
    "wake": ("#f59e0b", "Awake", 4),
    "restless": ("#fcd34d", "Restless", 3),
    "rem": ("#38bdf8", "REM", 3),
    "light": ("#60a5fa", "Light", 2),
    "asleep": ("#3b82f6", "Asleep", 2),
    "deep": ("#1e3a8a", "Deep", 1),
}
STAGE_ORDER = ("deep", "light", "asleep", "rem", "restless", "wake")
SWAP_COLOUR = "#0f766e"
LEFT_AXIS_WIDTH = 64
NOT_SYNCED_COLOUR = (156, 163, 175, 70)


def local_text(x: float, with_date: bool = True) -> str:
    """A contract x (patient-local seconds) as the patient's wall clock: 'Tue 12 Mar 14:05'."""
    t = dt.datetime.fromtimestamp(x, dt.UTC)
    return t.strftime("%a %d %b %Y %H:%M") if with_date else t.strftime("%H:%M")


def day_start_x(day: dt.date) -> float:
    """Patient-local midnight of `day` as a contract x."""
    return float(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def x_range_for(start: dt.date, end: dt.date) -> tuple[float, float]:
    """From local midnight of `start` to local midnight after `end`: what the axis shows."""
    return day_start_x(start), day_start_x(end + dt.timedelta(days=1))


class LocalTimeAxis(pg.DateAxisItem):
    """Ticks in the patient's local time (x already holds local wall-clock seconds)."""

    def __init__(self, orientation: str = "bottom") -> None:
        super().__init__(orientation=orientation, utcOffset=0)

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        out = []
        for v in values:
            try:
                t = dt.datetime.fromtimestamp(v, dt.UTC)
            except (OverflowError, ValueError, OSError):
                out.append("")
                continue
            if spacing >= 86400:
                out.append(t.strftime("%a %d" if spacing < 2 * 86400 else "%d %b"))
            elif t.hour == 0 and t.minute == 0:
                out.append(t.strftime("%a %d %b"))
            else:
                out.append(t.strftime("%H:%M"))
        return out


def make_plot(y_label: str, height: int = 170, time_axis: bool = True) -> pg.PlotWidget:
    axes = {"bottom": LocalTimeAxis()} if time_axis else {}
    w = pg.PlotWidget(axisItems=axes)
    w.setMinimumHeight(height)
    w.setMenuEnabled(False)
    item = w.getPlotItem()
    item.showGrid(x=True, y=True, alpha=0.15)
    item.setLabel("left", y_label)
    item.getViewBox().setMouseEnabled(x=True, y=False)
    item.hideButtons()
    font = QFont()
    font.setPointSizeF(8.5)
    for name in ("left", "bottom"):
        item.getAxis(name).setTickFont(font)
        item.getAxis(name).enableAutoSIPrefix(False)
    item.getAxis("left").setWidth(LEFT_AXIS_WIDTH)  # one width for all: linked charts line up in time
    return w


def breaks(x: Sequence[float], gap: float) -> np.ndarray:
    """A pyqtgraph `connect` array: no line across a gap longer than `gap` (the watch was off)."""
    arr = np.asarray(x, dtype=float)
    if len(arr) < 2:
        return np.ones(len(arr), dtype=np.int32)
    steps = np.diff(arr)
    # a device that reports every 10 minutes has 10-minute steps: only a longer silence is a gap
    gap = max(gap, 2.5 * float(np.median(steps)))
    joined = steps <= gap
    return np.append(joined, False).astype(np.int32)


class ChartBox(QWidget):
    """A section title, the plot, and the plain sentence shown instead of an empty plot."""

    def __init__(self, title: str, y_label: str, *, height: int = 170, time_axis: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(4)
        head = QHBoxLayout()
        head.setSpacing(12)
        self.title = label(title, "section")
        head.addWidget(self.title)
        self.key = QLabel()
        self.key.setObjectName("chartKey")
        self.key.setTextFormat(Qt.TextFormat.RichText)
        self.key.setWordWrap(True)
        self.key.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.key.setStyleSheet("QLabel { color: #4b5563; font-size: 9pt; }")
        head.addWidget(self.key, 1)
        col.addLayout(head)
        self.keys: list[tuple[str, str]] = []
        self.plot = make_plot(y_label, height, time_axis)
        self.plot.setFixedHeight(height)
        col.addWidget(self.plot)
        self.empty = label(EMPTY_TEXT, "muted")
        self.empty.setObjectName("emptyChart")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setMinimumHeight(44)
        self.empty.setStyleSheet("QLabel { background: #f9fafb; border: 1px dashed #d1d5db; border-radius: 8px; }")
        col.addWidget(self.empty)
        self.empty.hide()
        self.items: dict[str, Any] = {}  # what is drawn, by name, for read-outs and tests
        self.readout: Callable[[float], str | None] = lambda _x: None

    @property
    def item(self) -> pg.PlotItem:
        return self.plot.getPlotItem()

    def clear(self) -> None:
        self.item.clear()
        self.keys = []
        self.key.setText("")
        self.items = {}
        self.readout = lambda _x: None

    def set_empty(self, empty: bool, text: str = EMPTY_TEXT) -> None:
        self.empty.setText(text)
        self.empty.setVisible(empty)
        self.plot.setVisible(not empty)

    def add_key(self, colour: str, words: str, mark: str = "■") -> None:
        """The chart's key, beside its title (a key inside the plot would hide the data)."""
        self.keys.append((colour, words))
        self.key.setText("&nbsp;&nbsp;&nbsp;".join(
            f'<span style="color:{c}; font-size:12pt">{mark}</span>&nbsp;{html.escape(w)}' for c, w in self.keys))


def nearest(x: Sequence[float], at: float, tolerance: float) -> int | None:
    """Index of the point nearest `at` in sorted `x`, when within `tolerance`."""
    if not x:
        return None
    arr = np.asarray(x, dtype=float)
    i = int(np.searchsorted(arr, at))
    best = None
    for j in (i - 1, i):
        if 0 <= j < len(arr) and (best is None or abs(arr[j] - at) < abs(arr[best] - at)):
            best = j
    if best is None or abs(arr[best] - at) > tolerance:
        return None
    return best


def draw_band(box: ChartBox, kind: str, band: Any, bucket_s: float) -> None:
    """min..max as a shaded band, the average as a line; breaks where the device was not worn."""
    colour, words = KIND_STYLE.get(kind, ("#6b7280", kind.capitalize()))
    x = np.asarray(band.x, dtype=float)
    connect = breaks(band.x, max(2 * bucket_s, 180.0))
    qc = QColor(colour)
    lo = pg.PlotCurveItem(x, np.asarray(band.lo, dtype=float), connect=connect, pen=pg.mkPen(None))
    hi = pg.PlotCurveItem(x, np.asarray(band.hi, dtype=float), connect=connect, pen=pg.mkPen(None))
    fill_colour = QColor(qc)
    fill_colour.setAlpha(55)
    fill = pg.FillBetweenItem(lo, hi, brush=pg.mkBrush(fill_colour))
    avg = pg.PlotCurveItem(x, np.asarray(band.avg, dtype=float), connect=connect, pen=pg.mkPen(colour, width=1.4))
    for it in (lo, hi, fill, avg):
        box.item.addItem(it)
    box.add_key(colour, words + (" (line: average, band: lowest–highest)" if kind == "sample" else ""))
    box.items[f"band:{kind}"] = avg
    box.items[f"fill:{kind}"] = fill


def draw_bars(box: ChartBox, bars: Any, colour: str, name: str) -> pg.BarGraphItem:
    """Bars starting at each x, `width_s` wide (a small gap between them)."""
    width = float(bars.width_s)
    item = pg.BarGraphItem(x0=np.asarray(bars.x, dtype=float) + width * 0.06, width=width * 0.88,
                           height=np.asarray(bars.values, dtype=float), brush=pg.mkBrush(colour),
                           pen=pg.mkPen(None))
    box.item.addItem(item)
    box.items[name] = item
    return item


def draw_stacked_nights(box: ChartBox, nights: Sequence[Any]) -> dict[str, pg.BarGraphItem]:
    """Each night as a bar spanning its sleep, split by minutes per stage (deep at the bottom).

    When two device types recorded the same nights (a watch and a sleep mat), each gets its own
    half of the night's width, so neither hides the other.
    """
    drawn: dict[str, pg.BarGraphItem] = {}
    vendors = sorted({n.vendor for n in nights})
    share = 1.0 / len(vendors) if vendors else 1.0
    spans = np.asarray([max(n.end_x - n.start_x, 3600.0) for n in nights], dtype=float)
    x0 = np.asarray([n.start_x for n in nights], dtype=float) + spans * share * np.asarray(
        [vendors.index(n.vendor) for n in nights], dtype=float)
    width = spans * share * 0.94
    base = np.zeros(len(nights))
    for stage in STAGE_ORDER:
        heights = np.asarray([float(n.minutes_by_stage.get(stage, 0) or 0) for n in nights])
        if not heights.any():
            continue
        colour, words, _level = STAGE_STYLE[stage]
        item = pg.BarGraphItem(x0=x0, width=width, y0=base.copy(), height=heights, brush=pg.mkBrush(colour),
                               pen=pg.mkPen("w", width=0.5))
        box.item.addItem(item)
        box.add_key(colour, words)
        drawn[stage] = item
        base = base + heights
    if len(base):
        box.item.setYRange(0, float(base.max()) * 1.45, padding=0)
    box.items.update({f"stage:{k}": v for k, v in drawn.items()})
    return drawn


def hypnogram_xy(segments: Sequence[tuple[float, float, str]]) -> tuple[np.ndarray, np.ndarray]:
    """Step coordinates for the hypnogram: each segment a flat line at its stage's level."""
    xs: list[float] = []
    ys: list[float] = []
    for start, end, stage in segments:
        level = float(STAGE_STYLE.get(stage, ("", "", 2))[2])
        xs += [start, end]
        ys += [level, level]
    return np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)


def draw_markers(box: ChartBox, markers: Any, *, with_labels: bool) -> None:
    """Device swaps as vertical lines, "device not synced" periods as grey regions."""
    for i, (x0, x1, words) in enumerate(markers.not_synced):
        region = pg.LinearRegionItem(values=(x0, x1), movable=False, brush=pg.mkBrush(NOT_SYNCED_COLOUR),
                                     pen=pg.mkPen(None))
        region.setZValue(-20)
        region.setToolTip(f"Device not synced: {words}")
        box.item.addItem(region)
        box.items[f"not_synced:{i}"] = region
    for i, (x, words) in enumerate(markers.device_swaps):
        line = pg.InfiniteLine(pos=x, angle=90, movable=False, pen=pg.mkPen(SWAP_COLOUR, width=1.5,
                                                                             style=Qt.PenStyle.DashLine),
                               label=f"new device: {words}" if with_labels else None,
                               labelOpts={"position": 0.92, "color": SWAP_COLOUR, "fill": (255, 255, 255, 200)})
        box.item.addItem(line)
        box.items[f"swap:{i}"] = line


VENDOR_COLOURS = {"fitbit": "#2563eb", "withings": "#7c3aed", "polar": "#ea580c"}


def draw_scores(box: ChartBox, nights: Sequence[Any]) -> int:
    """The vendors' sleep scores, one dot per night at the night's middle, a line per device type."""
    count = 0
    for vendor in sorted({n.vendor for n in nights}):
        pts = [((n.start_x + n.end_x) / 2, float(n.score)) for n in nights
               if n.vendor == vendor and n.score is not None]
        if not pts:
            continue
        colour = VENDOR_COLOURS.get(vendor, "#374151")
        item = pg.PlotDataItem([p[0] for p in pts], [p[1] for p in pts], pen=pg.mkPen(colour, width=1.2),
                               symbol="o", symbolSize=7, symbolBrush=colour, symbolPen=None)
        box.item.addItem(item)
        box.add_key(colour, f"{vendor.capitalize()} sleep score", "●")
        box.items[f"score:{vendor}"] = item
        count += len(pts)
    box.item.setYRange(0, 100, padding=0.05)
    return count
