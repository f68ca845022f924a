"""The two drill-down panels of the Data page: one night (hypnogram with heart rate, breathing and
snoring) and one Polar exercise (the list of the range's exercises and the chosen one's heart rate)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.format import vendor_label
from gui.pages.data.plots import (
    EMPTY_TEXT,
    KIND_STYLE,
    STAGE_STYLE,
    ChartBox,
    breaks,
    draw_band,
    hypnogram_xy,
    local_text,
    nearest,
)
from gui.widgets import label

NO_NIGHTS = "No night recorded for this patient in these days"
NO_EXERCISES = "No exercise recorded for this patient in these days"


def night_title(n: Any) -> str:
    asleep = f"{n.minutes_asleep // 60} h {n.minutes_asleep % 60:02d} min asleep" if n.minutes_asleep else ""
    parts = [n.local_date.strftime("%a %d %b %Y"), vendor_label(n.vendor)]
    if asleep:
        parts.append(asleep)
    return " · ".join(parts)


def night_summary(n: Any) -> str:
    parts = []
    if n.score is not None:
        parts.append(f"sleep score {n.score}")
    if n.hr_average is not None:
        parts.append(f"average heart rate {n.hr_average:.0f} bpm")
    if n.rr_average is not None:
        parts.append(f"average breathing {n.rr_average:.1f} per minute")
    if n.snoring_s:
        parts.append(f"snoring {round(n.snoring_s / 60)} min")
    return "From " + local_text(n.start_x) + " to " + local_text(n.end_x, with_date=False) + (
        " · " + " · ".join(parts) if parts else "")


class NightPanel(QWidget):
    """A night picker and the chosen night: stages over time, heart rate and breathing, snoring."""

    night_chosen = Signal(object)  # the Night, or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(6)
        row = QHBoxLayout()
        row.addWidget(label("One night", "section"))
        row.addSpacing(12)
        self.picker = QComboBox()
        self.picker.setObjectName("nightPicker")
        self.picker.setMinimumWidth(400)
        self.picker.currentIndexChanged.connect(self._picked)
        row.addWidget(self.picker)
        row.addStretch(1)
        col.addLayout(row)
        self.summary = label("", "muted", wrap=True)
        col.addWidget(self.summary)
        self.empty = label(NO_NIGHTS, "muted")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setMinimumHeight(44)
        self.empty.setStyleSheet("QLabel { background: #f9fafb; border: 1px dashed #d1d5db; border-radius: 8px; }")
        col.addWidget(self.empty)
        self.hypnogram = ChartBox("Sleep stages", "stage", height=150)
        self.vitals = ChartBox("Heart rate and breathing during the night", "per minute", height=150)
        self.snoring = ChartBox("Snoring", "snoring", height=100)
        for box in (self.hypnogram, self.vitals, self.snoring):
            box.title.setProperty("role", "muted")
            col.addWidget(box)
        self.vitals.plot.setXLink(self.hypnogram.plot)
        self.snoring.plot.setXLink(self.hypnogram.plot)
        # restless shares REM's level and "asleep" (classic stages) shares light's: the colours tell them apart
        self.hypnogram.item.getAxis("left").setTicks([[(4, "Awake"), (3, "REM"), (2, "Light"), (1, "Deep")]])
        self.hypnogram.item.setYRange(0.5, 4.5, padding=0)
        self.nights: list[Any] = []
        self.current: Any = None
        self.show_nights([])

    def show_nights(self, nights: list[Any]) -> None:
        self.nights = list(nights)
        self.picker.blockSignals(True)
        self.picker.clear()
        for n in self.nights:
            self.picker.addItem(night_title(n), n.id)
        self.picker.blockSignals(False)
        has = bool(self.nights)
        self.empty.setVisible(not has)
        self.picker.setEnabled(has)
        for box in (self.hypnogram, self.vitals, self.snoring):
            box.setVisible(has)
        self.summary.setVisible(has)
        if has:
            self.picker.setCurrentIndex(len(self.nights) - 1)  # the latest night first
            self._picked(len(self.nights) - 1)
        else:
            self.current = None
            self.night_chosen.emit(None)

    def _picked(self, index: int) -> None:
        if 0 <= index < len(self.nights):
            self.current = self.nights[index]
            self.summary.setText(night_summary(self.current))
            for box in (self.hypnogram, self.vitals, self.snoring):
                box.clear()
            self.night_chosen.emit(self.current)

    def show_hypnogram(self, night: Any, hyp: Any) -> None:
        """Draw the night's stages, heart rate, breathing and snoring (from the chart service)."""
        if night is not self.current:
            return
        for box in (self.hypnogram, self.vitals, self.snoring):
            box.clear()
        if hyp.segments:
            xs, ys = hypnogram_xy(hyp.segments)
            self.hypnogram.item.addItem(pg.PlotCurveItem(xs, ys, pen=pg.mkPen("#1e3a8a", width=2)))
            for start, end, stage in hyp.segments:
                colour = STAGE_STYLE.get(stage, ("#9ca3af", stage, 2))[0]
                level = STAGE_STYLE.get(stage, ("", "", 2))[2]
                bar = pg.BarGraphItem(x0=[start], width=[end - start], y0=[0.5], height=[level - 0.5],
                                      brush=pg.mkBrush(colour + "55"), pen=pg.mkPen(None))
                self.hypnogram.item.addItem(bar)
            self.hypnogram.items["segments"] = list(hyp.segments)
        self.hypnogram.set_empty(not hyp.segments, "No sleep stages were recorded for this night")
        self.hypnogram.item.setYRange(0.5, 4.5, padding=0)
        self.hypnogram.readout = lambda x: _stage_at(hyp.segments, x)
        drawn = False
        if hyp.heart_rate is not None and hyp.heart_rate.x:
            draw_band(self.vitals, "sleep", hyp.heart_rate, 60)
            drawn = True
        if hyp.breathing is not None and hyp.breathing.x:
            x = np.asarray(hyp.breathing.x, dtype=float)
            curve = pg.PlotCurveItem(x, np.asarray(hyp.breathing.avg, dtype=float),
                                     connect=breaks(hyp.breathing.x, 1800), pen=pg.mkPen("#059669", width=1.6))
            self.vitals.item.addItem(curve)
            self.vitals.add_key("#059669", "Breaths per minute")
            self.vitals.items["breathing"] = curve
            drawn = True
        self.vitals.set_empty(not drawn, "No heart rate or breathing was recorded during this night")
        self.vitals.readout = lambda x: _vitals_at(hyp, x)
        if hyp.snoring:
            # (x, value) samples: each a bar until the next sample
            x0 = np.asarray([a for a, _v in hyp.snoring], dtype=float)
            gaps = np.diff(x0) if len(x0) > 1 else np.asarray([300.0])
            w = np.append(gaps, np.median(gaps) if len(gaps) else 300.0).clip(max=1800) * 0.9
            h = np.asarray([v for _a, v in hyp.snoring], dtype=float)
            bars = pg.BarGraphItem(x0=x0, width=w, height=h, brush=pg.mkBrush("#a16207"), pen=pg.mkPen(None))
            self.snoring.item.addItem(bars)
            self.snoring.items["snoring"] = bars
            self.snoring.item.setYRange(0, max(1.0, float(h.max()) * 1.1), padding=0)
        self.snoring.set_empty(not hyp.snoring, "No snoring was recorded during this night")
        self.hypnogram.item.setXRange(night.start_x, night.end_x, padding=0.02)


def _stage_at(segments: list[tuple[float, float, str]], x: float) -> str | None:
    for start, end, stage in segments:
        if start <= x < end:
            return f"{local_text(x)} · {STAGE_STYLE.get(stage, ('', stage, 0))[1]}"
    return None


def _vitals_at(hyp: Any, x: float) -> str | None:
    parts = [local_text(x)]
    for band, words, unit in ((hyp.heart_rate, "heart rate", "bpm"), (hyp.breathing, "breathing", "per minute")):
        if band is None:
            continue
        i = nearest(band.x, x, 300)
        if i is not None:
            parts.append(f"{words} {band.avg[i]:.0f} {unit}" if unit == "bpm" else f"{words} {band.avg[i]:.1f} {unit}")
    return " · ".join(parts) if len(parts) > 1 else None


EXERCISE_COLUMNS = ("Day", "Start", "Minutes", "Sport", "Average HR", "Max HR", "Calories", "Distance")


def sport_words(sport: str) -> str:
    return sport.replace("_", " ").capitalize() if sport else "Exercise"


class ExercisePanel(QWidget):
    """The range's exercises as a list; the chosen one's heart-rate curve below it."""

    exercise_chosen = Signal(object)  # ExerciseItem

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(6)
        col.addWidget(label("Exercises", "section"))
        self.empty = label(NO_EXERCISES, "muted")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setMinimumHeight(44)
        self.empty.setStyleSheet("QLabel { background: #f9fafb; border: 1px dashed #d1d5db; border-radius: 8px; }")
        col.addWidget(self.empty)
        self.table = QTableWidget(0, len(EXERCISE_COLUMNS))
        self.table.setObjectName("exerciseTable")
        self.table.setHorizontalHeaderLabels(list(EXERCISE_COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._picked)
        col.addWidget(self.table)
        self.curve = ChartBox("Heart rate during the chosen exercise", "bpm", height=150)
        self.curve.title.setProperty("role", "muted")
        col.addWidget(self.curve)
        self.exercises: list[Any] = []
        self.current: Any = None
        self.show_exercises([])

    def show_exercises(self, items: list[Any]) -> None:
        self.exercises = list(items)
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.exercises))
        for r, e in enumerate(self.exercises):
            minutes = round((e.end_x - e.start_x) / 60)
            cells = (e.local_date.strftime("%a %d %b"), local_text(e.start_x, with_date=False), str(minutes),
                     sport_words(e.sport), _num(e.avg_hr, " bpm"), _num(e.max_hr, " bpm"), _num(e.calories, " kcal"),
                     f"{e.distance_m / 1000:.2f} km" if e.distance_m else "—")
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.blockSignals(False)
        header_h = self.table.horizontalHeader().sizeHint().height()
        shown = range(min(len(self.exercises), 6))
        self.table.setFixedHeight(header_h + 4 + sum(self.table.rowHeight(r) for r in shown))
        has = bool(self.exercises)
        self.empty.setVisible(not has)
        self.table.setVisible(has)
        self.curve.setVisible(has)
        self.curve.clear()
        if has:
            self.table.selectRow(len(self.exercises) - 1)
            self._picked()
        else:
            self.current = None

    def _picked(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        self.current = self.exercises[rows[0].row()]
        self.curve.clear()
        self.exercise_chosen.emit(self.current)

    def show_heart_rate(self, exercise: Any, band: Any) -> None:
        if exercise is not self.current:
            return
        self.curve.clear()
        self.curve.set_empty(not band.x, "No heart rate was recorded during this exercise")
        if band.x:
            x = np.asarray(band.x, dtype=float)
            curve = pg.PlotCurveItem(x, np.asarray(band.avg, dtype=float), pen=pg.mkPen(KIND_STYLE["exercise"][0],
                                                                                    width=1.6))
            self.curve.item.addItem(curve)
            self.curve.items["heart_rate"] = curve
            self.curve.item.setXRange(exercise.start_x, exercise.end_x, padding=0.02)
        self.curve.readout = lambda x: _band_at(band, x, "heart rate")


def _band_at(band: Any, x: float, words: str) -> str | None:
    i = nearest(band.x, x, 120)
    return None if i is None else f"{local_text(x)} · {words} {band.avg[i]:.0f} bpm"


def _num(v: float | None, unit: str) -> str:
    return "—" if v is None else f"{v:.0f}{unit}"


__all__ = ["EMPTY_TEXT", "ExercisePanel", "NightPanel"]
