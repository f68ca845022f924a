"""The printable patient report: `render_pdf(data, out)` draws a `ReportData` onto A4 pages.

Drawn with Qt's own PDF writer (QPdfWriter + QPainter), so no browser and no window are needed: the
command line calls it too (main.py hands it to services/cli/report.py). Charts are drawn here with
QPainter from the same series the Data page shows, because a PDF page is paper, not a widget, and
QPainter on a PDF is safe on a worker thread. The file is written under a temporary name and renamed
when complete, so a failure never leaves half a report behind.

Layout: a header (patient, period, devices, when it was made), the heart-rate, steps and sleep
charts, then the per-day table, which continues on further pages with its header row repeated;
every page carries "Page n of N".
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMarginsF, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QPageLayout,
    QPageSize,
    QPainter,
    QPainterPath,
    QPdfWriter,
    QPen,
    QPolygonF,
)

# page geometry in points (the writer runs at 72 dpi, so one unit is one point)
PAGE_W, PAGE_H = 595.0, 842.0
MARGIN = 42.0
FOOTER = 28.0
CHART_H = 118.0
ROW_H = 17.0
TEXT = QColor("#1f2937")
MUTED = QColor("#6b7280")
GRID = QColor("#e5e7eb")
ACCENT = QColor("#0f766e")
HR_COLOUR = QColor("#2563eb")
RESTING_COLOUR = QColor("#b91c1c")
STEPS_COLOUR = QColor("#0f766e")
STAGE_COLOURS = {"deep": "#1e3a8a", "light": "#60a5fa", "asleep": "#3b82f6", "rem": "#38bdf8",
                 "restless": "#fcd34d", "wake": "#f59e0b"}
STAGE_WORDS = {"deep": "Deep", "light": "Light", "asleep": "Asleep", "rem": "REM", "restless": "Restless",
               "wake": "Awake"}
VENDOR_WORDS = {"fitbit": "Fitbit", "withings": "Withings", "polar": "Polar"}
WEAR_WORDS = {"fitbit": "minutes with a heart-rate reading (Fitbit)",
              "withings": "minutes on the sleep mat (Withings)",
              "polar": "minutes of exercise (Polar)"}
COLUMNS = (("Date", 0.25), ("Steps", 0.15), ("Wear", 0.2), ("Resting heart rate", 0.2), ("Asleep", 0.2))


def _font(size: float, bold: bool = False) -> QFont:
    f = QFont("DejaVu Sans")
    f.setStyleHint(QFont.StyleHint.SansSerif)
    f.setPointSizeF(size)
    f.setBold(bold)
    return f


def _day_x(day: dt.date) -> float:
    return float(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def hours_minutes(minutes: int | None) -> str:
    if minutes is None:
        return "—"
    h, m = divmod(int(minutes), 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"


def day_cells(day: Any) -> list[str]:
    """One table row as the report prints it."""
    return [
        day.date.strftime("%a %d %b %Y"),
        "—" if day.steps is None else f"{int(day.steps):,}",
        hours_minutes(day.wear_minutes),
        "—" if day.resting_hr is None else f"{int(day.resting_hr)} bpm",
        hours_minutes(day.minutes_asleep),
    ]


def nice_step(span: float, target: int = 4) -> float:
    if span <= 0:
        return 1.0
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    return float(next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw))


@dataclass
class Chart:
    """A plot area: maps contract x (patient-local seconds) and values to page points."""

    rect: QRectF
    x0: float
    x1: float
    y0: float
    y1: float

    def px(self, x: float) -> float:
        return self.rect.left() + (x - self.x0) / (self.x1 - self.x0) * self.rect.width()

    def py(self, y: float) -> float:
        return self.rect.bottom() - (y - self.y0) / (self.y1 - self.y0) * self.rect.height()

    def point(self, x: float, y: float) -> QPointF:
        return QPointF(self.px(x), self.py(y))


class ReportPainter:
    def __init__(self, painter: QPainter, data: Any, pages: int) -> None:
        self.p = painter
        self.data = data
        self.pages = pages
        self.page = 1

    # -- text -------------------------------------------------------------------------------
    def text(self, x: float, y: float, s: str, size: float = 9.0, bold: bool = False, colour: QColor = TEXT,
             align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft, width: float = 0.0) -> float:
        """Draw one line with its top at y; returns the line height."""
        font = _font(size, bold)
        self.p.setFont(font)
        self.p.setPen(colour)
        fm = QFontMetricsF(font)
        w = width or fm.horizontalAdvance(s) + 2
        self.p.drawText(QRectF(x, y, w, fm.height()), int(align | Qt.AlignmentFlag.AlignVCenter), s)
        return float(fm.height())

    def paragraph(self, x: float, y: float, s: str, size: float, width: float) -> float:
        """Wrapped muted text; returns its height."""
        font = _font(size)
        self.p.setFont(font)
        self.p.setPen(MUTED)
        flags = int(Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap)
        bound = QFontMetricsF(font).boundingRect(QRectF(0, 0, width, 200), flags, s)
        self.p.drawText(QRectF(x, y, width, bound.height() + 2), flags, s)
        return float(bound.height())

    def footer(self) -> None:
        y = PAGE_H - MARGIN + 8
        self.p.setPen(QPen(GRID, 0.8))
        self.p.drawLine(QPointF(MARGIN, y - 6), QPointF(PAGE_W - MARGIN, y - 6))
        self.text(MARGIN, y, f"WearSync report · patient {self.data.patient}", 7.5, colour=MUTED)
        self.text(PAGE_W - MARGIN - 120, y, f"Page {self.page} of {self.pages}", 7.5, colour=MUTED,
                  align=Qt.AlignmentFlag.AlignRight, width=120)

    # -- header -------------------------------------------------------------------------------
    def header(self) -> float:
        d = self.data
        y = MARGIN
        self.text(MARGIN, y, "WearSync · patient data report", 9, colour=ACCENT, bold=True)
        y += 16
        y += self.text(MARGIN, y, f"Patient {d.patient}", 18, bold=True) + 4
        days = (d.end - d.start).days + 1
        lines = [
            ("Period", f"{d.start:%d %b %Y} to {d.end:%d %b %Y} ({days} day{'s' if days != 1 else ''}, "
                       "in the patient's local days)"),
            ("Devices", ", ".join(VENDOR_WORDS.get(v, v.capitalize()) for v in d.devices) or "none"),
            ("Generated", f"{d.generated_at:%d %b %Y %H:%M} UTC"),
        ]
        for key, value in lines:
            self.text(MARGIN, y, key, 9, colour=MUTED)
            y += self.text(MARGIN + 70, y, value, 9) + 1
        y += 6
        self.p.setPen(QPen(GRID, 1))
        self.p.drawLine(QPointF(MARGIN, y), QPointF(PAGE_W - MARGIN, y))
        return y + 10

    # -- charts -------------------------------------------------------------------------------
    def chart_frame(self, top: float, title: str, y_max: float, unit: str,
                    legend: Sequence[tuple[str, QColor]] = (), y_min: float = 0.0) -> Chart:
        d = self.data
        self.text(MARGIN, top, f"{title} ({unit})" if unit and unit not in title.lower() else title, 10.5, bold=True)
        lx = PAGE_W - MARGIN
        for words, colour in reversed(legend):
            w = QFontMetricsF(_font(7.5)).horizontalAdvance(words) + 4
            lx -= w
            self.text(lx, top + 3, words, 7.5, colour=MUTED)
            lx -= 12
            self.p.fillRect(QRectF(lx, top + 6, 9, 7), colour)
            lx -= 10
        area = QRectF(MARGIN + 38, top + 20, PAGE_W - 2 * MARGIN - 42, CHART_H - 36)
        x0, x1 = _day_x(d.start), _day_x(d.end + dt.timedelta(days=1))
        step = nice_step(y_max - y_min)
        bottom_value = math.floor(y_min / step) * step
        top_value = max(bottom_value + step, math.ceil(y_max / step) * step)
        chart = Chart(area, x0, x1, bottom_value, top_value)
        # horizontal grid and values
        v = bottom_value
        while v <= top_value + 1e-9:
            y = chart.py(v)
            self.p.setPen(QPen(GRID, 0.6))
            self.p.drawLine(QPointF(area.left(), y), QPointF(area.right(), y))
            self.text(area.left() - 40, y - 6, f"{v:,.0f}", 7, colour=MUTED, align=Qt.AlignmentFlag.AlignRight,
                      width=36)
            v += step
        # day boundaries and labels (at most ~12 labels)
        days = (d.end - d.start).days + 1
        every = max(1, math.ceil(days / 12))
        for i in range(days + 1):
            x = chart.px(x0 + i * 86400)
            if i % every == 0 or i == days:
                self.p.setPen(QPen(GRID, 0.6))
                self.p.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
            if i < days and i % every == 0:
                day = d.start + dt.timedelta(days=i)
                label = f"{day:%d %b}" if days > 1 else f"{day:%a %d %b %Y}"
                width = min(area.width() / days * every, 60)
                self.text(x + 2 if days <= 14 else x - width / 2 + 2, area.bottom() + 2, label, 6.8, colour=MUTED,
                          width=width)
        if days == 1:  # one day: hours instead
            for h in range(0, 25, 3):
                x = chart.px(x0 + h * 3600)
                self.p.setPen(QPen(GRID, 0.5))
                self.p.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
                if 0 < h < 24:
                    self.text(x - 15, area.bottom() + 2, f"{h:02d}:00", 6.8, colour=MUTED,
                              align=Qt.AlignmentFlag.AlignCenter, width=30)
        self.p.setPen(QPen(QColor("#9ca3af"), 0.8))
        self.p.drawLine(QPointF(area.left(), area.bottom()), QPointF(area.right(), area.bottom()))
        return chart

    def no_data(self, chart: Chart, words: str = "No data for this patient in these days") -> None:
        self.text(chart.rect.left(), chart.rect.center().y() - 6, words, 8.5, colour=MUTED,
                  align=Qt.AlignmentFlag.AlignCenter, width=chart.rect.width())

    def heart_rate_chart(self, top: float) -> float:
        hr = self.data.heart_rate
        bands = [b for b in hr.bands.values() if b.x]
        y_max = max([max(b.hi) for b in bands] + [y for _x, y in hr.resting] + [60.0])
        y_min = max(0.0, min([min(b.lo) for b in bands] + [y for _x, y in hr.resting] + [y_max]) - 10)
        legend = [("Heart rate (average, with lowest–highest band)", HR_COLOUR)]
        if hr.resting:
            legend.append(("Resting heart rate", RESTING_COLOUR))
        chart = self.chart_frame(top, "Heart rate", y_max * 1.05, "bpm", legend, y_min=y_min)
        self.p.save()
        self.p.setClipRect(chart.rect.adjusted(0, -2, 0, 2))
        self.p.setRenderHint(QPainter.RenderHint.Antialiasing)
        gap = max(2.5 * hr.bucket_s, 180.0)
        for band in bands:
            for seg in _segments(band.x, gap):
                upper = [chart.point(band.x[i], band.hi[i]) for i in seg]
                lower = [chart.point(band.x[i], band.lo[i]) for i in reversed(seg)]
                fill = QColor(HR_COLOUR)
                fill.setAlpha(50)
                self.p.setPen(Qt.PenStyle.NoPen)
                self.p.setBrush(QBrush(fill))
                self.p.drawPolygon(QPolygonF(upper + lower))
                path = QPainterPath(chart.point(band.x[seg[0]], band.avg[seg[0]]))
                for i in seg[1:]:
                    path.lineTo(chart.point(band.x[i], band.avg[i]))
                self.p.setBrush(Qt.BrushStyle.NoBrush)
                self.p.setPen(QPen(HR_COLOUR, 0.8))
                self.p.drawPath(path)
        if hr.resting:
            pen = QPen(RESTING_COLOUR, 1.2, Qt.PenStyle.DashLine)
            self.p.setPen(pen)
            pts = [chart.point(x, y) for x, y in hr.resting]
            for a, b in itertools.pairwise(pts):
                self.p.drawLine(a, b)
            self.p.setBrush(QBrush(RESTING_COLOUR))
            self.p.setPen(Qt.PenStyle.NoPen)
            for pt in pts:
                self.p.drawEllipse(pt, 1.8, 1.8)
        self.p.restore()
        if not bands and not hr.resting:
            self.no_data(chart)
        return top + CHART_H

    def steps_chart(self, top: float) -> float:
        bars = self.data.steps
        per_day = bars.width_s >= 86400
        y_max = max([*bars.values, 100.0])
        chart = self.chart_frame(top, "Steps per day" if per_day else "Steps per hour", y_max * 1.05, "steps",
                                 [("Steps", STEPS_COLOUR)])
        for x, v in zip(bars.x, bars.values, strict=True):
            left, right = chart.px(x + bars.width_s * 0.08), chart.px(x + bars.width_s * 0.92)
            self.p.fillRect(QRectF(left, chart.py(v), max(right - left, 0.6), chart.py(0) - chart.py(v)),
                            STEPS_COLOUR)
        if not any(bars.values):
            self.no_data(chart)
        return top + CHART_H

    def sleep_chart(self, top: float) -> float:
        nights = list(self.data.nights)
        stages = [s for s in STAGE_COLOURS if any(n.minutes_by_stage.get(s) for n in nights)]
        totals = [sum(v or 0 for k, v in n.minutes_by_stage.items() if k in STAGE_COLOURS) for n in nights]
        chart = self.chart_frame(top, "Sleep per night", max([*totals, 60]) * 1.05, "minutes",
                                 [(STAGE_WORDS[s], QColor(STAGE_COLOURS[s])) for s in stages])
        vendors = sorted({n.vendor for n in nights})
        share = 1.0 / len(vendors) if vendors else 1.0
        for n in nights:
            span = max(n.end_x - n.start_x, 3600.0) * share
            left = n.start_x + span * vendors.index(n.vendor)
            base = 0.0
            for s in ("deep", "light", "asleep", "rem", "restless", "wake"):
                m = float(n.minutes_by_stage.get(s) or 0)
                if not m:
                    continue
                x_a, x_b = chart.px(left), chart.px(left + span * 0.92)
                rect = QRectF(x_a, chart.py(base + m), max(x_b - x_a, 0.8), chart.py(base) - chart.py(base + m))
                self.p.fillRect(rect, QColor(STAGE_COLOURS[s]))
                base += m
        if not nights:
            self.no_data(chart, "No night recorded for this patient in these days")
        return top + CHART_H

    # -- table --------------------------------------------------------------------------------
    def table_header(self, top: float) -> float:
        x = MARGIN
        width = PAGE_W - 2 * MARGIN
        self.p.fillRect(QRectF(MARGIN, top, width, ROW_H + 2), QColor("#f3f4f6"))
        for name, share in COLUMNS:
            align = Qt.AlignmentFlag.AlignLeft if name == "Date" else Qt.AlignmentFlag.AlignRight
            self.text(x + 4, top + 3, name, 8.5, bold=True, align=align, width=width * share - 10)
            x += width * share
        return top + ROW_H + 4

    def table_row(self, top: float, day: Any, shade: bool) -> float:
        width = PAGE_W - 2 * MARGIN
        if shade:
            self.p.fillRect(QRectF(MARGIN, top, width, ROW_H), QColor("#fafafa"))
        x = MARGIN
        for (name, share), cell in zip(COLUMNS, day_cells(day), strict=True):
            align = Qt.AlignmentFlag.AlignLeft if name == "Date" else Qt.AlignmentFlag.AlignRight
            self.text(x + 4, top + 2, cell, 8.5, align=align, width=width * share - 10,
                      colour=MUTED if cell == "—" else TEXT)
            x += width * share
        return top + ROW_H


def _segments(x: Sequence[float], gap: float) -> list[list[int]]:
    """Index runs without a silence longer than `gap` (no line is drawn across a gap)."""
    runs: list[list[int]] = []
    for i, v in enumerate(x):
        if runs and v - x[runs[-1][-1]] <= gap:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def table_note(data: Any) -> str:
    wear = WEAR_WORDS.get(getattr(data, "wear_vendor", None) or "", "the device's wear")
    return f"Per day (patient's local days). Steps: the day's total. Wear: {wear}. — means nothing was recorded."


def layout_pages(n_days: int) -> list[tuple[int, int]]:
    """Which table rows go on which page: (first, end) per page; page 1 holds the charts too."""
    first_top = MARGIN + 120 + 3 * CHART_H + 30
    bottom = PAGE_H - MARGIN - FOOTER
    per_first = max(0, int((bottom - first_top - ROW_H - 4) // ROW_H))
    per_page = int((bottom - MARGIN - ROW_H - 4 - 18) // ROW_H)
    pages: list[tuple[int, int]] = []
    i = min(per_first, n_days)
    pages.append((0, i))
    while i < n_days:
        pages.append((i, min(i + per_page, n_days)))
        i += per_page
    return pages


def _ensure_gui_app() -> Callable[[], None]:
    """A QGuiApplication is needed for fonts; make an offscreen one when none exists (the CLI)."""
    if QGuiApplication.instance() is not None:
        return lambda: None
    if "QT_QPA_PLATFORM" not in os.environ and not os.environ.get("DISPLAY") and os.name == "posix":
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = QGuiApplication(["wearsync-report"])
    return lambda: app.shutdown() if hasattr(app, "shutdown") else None


def render_pdf(data: Any, out: Path) -> None:
    """Draw `data` (a services.data.report.ReportData) as an A4 PDF at `out`, whole or not at all."""
    _ensure_gui_app()
    out = Path(out)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        writer = QPdfWriter(str(tmp))
        writer.setResolution(72)
        writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait,
                                         QMarginsF(0, 0, 0, 0)))
        writer.setTitle(f"WearSync report, patient {data.patient}, {data.start} to {data.end}")
        writer.setCreator("WearSync")
        pages = layout_pages(len(data.days))
        painter = QPainter()
        if not painter.begin(writer):
            raise OSError(f"Could not write {out.name}.")
        try:
            rp = ReportPainter(painter, data, len(pages))
            for number, (first, end) in enumerate(pages, start=1):
                rp.page = number
                if number > 1:
                    writer.newPage()
                    y = MARGIN
                    y += rp.text(MARGIN, y, f"Patient {data.patient} · {data.start:%d %b %Y} to {data.end:%d %b %Y} "
                                            "(continued)", 9, colour=MUTED) + 8
                else:
                    y = rp.header()
                    y = rp.heart_rate_chart(y)
                    y = rp.steps_chart(y)
                    y = rp.sleep_chart(y)
                    y += 6
                    y += rp.paragraph(MARGIN, y, table_note(data), 7.5, PAGE_W - 2 * MARGIN) + 4
                if end > first:
                    y = rp.table_header(y)
                    for i in range(first, end):
                        y = rp.table_row(y, data.days[i], shade=i % 2 == 1)
                rp.footer()
        finally:
            painter.end()
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise OSError(f"The report {out.name} could not be drawn.")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


__all__ = ["day_cells", "layout_pages", "render_pdf"]
