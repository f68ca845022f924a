"""The Data page: one patient's heart rate, steps, sleep and exercises on one shared time axis.

Everything is in the patient's local time (the chart service's x convention). Queries run on the
bridge's workers through a `Loader`, so picking another patient or range while a 90-day view loads
supersedes the old request and the window keeps answering.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QDate, QPointF, Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from gui.context import PageContext
from gui.format import vendor_label
from gui.pages.base import Page
from gui.pages.data.loader import Loader, PatientView, ViewRequest, load_view
from gui.pages.data.panels import ExercisePanel, NightPanel
from gui.pages.data.plots import (
    ACTIVITY_COLOUR,
    RESTING_COLOUR,
    STAGE_STYLE,
    STEPS_COLOUR,
    ChartBox,
    draw_band,
    draw_bars,
    draw_markers,
    draw_scores,
    draw_stacked_nights,
    local_text,
    nearest,
    x_range_for,
)
from gui.pages.data.report_saved import LocationDialog
from gui.widgets import Banner, Card, button, choice_box, date_range_row, label

# (words in the picker, days shown); None = the dates the user picks
RANGES: list[tuple[str, int | None]] = [
    ("24 hours (one day)", 1),
    ("7 days", 7),
    ("30 days", 30),
    ("90 days", 90),
    ("Custom dates", None),
]
MAX_DAYS = 366


def clinic_today(app: Any) -> dt.date:
    """Today from the app's one clock (issue 9), whichever shape it has."""
    clock = getattr(app, "clock", None)
    if clock is not None:
        today = getattr(clock, "today", None)
        if callable(today):
            return today()  # type: ignore[no-any-return]
        now = getattr(clock, "now", None)
        value = now() if callable(now) else clock() if callable(clock) else None
        if isinstance(value, dt.datetime):
            return value.date()
    from gui.format import today as clock_today  # the app's clock, as the page context handed it over

    return clock_today()


def to_qdate(d: dt.date) -> QDate:
    return QDate(d.year, d.month, d.day)


def from_qdate(q: QDate) -> dt.date:
    return dt.date(q.year(), q.month(), q.day())


def documents_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_documents_dir())


def build_report(app: Any, patient: str, start: dt.date, end: dt.date, out: Path) -> Path:
    """Runs on a worker: the report service gathers, `render_pdf` draws (QPainter is thread-safe on a PDF)."""
    from gui.report_pdf import render_pdf
    from services.errors import InvalidInput

    data = app.reports.build(patient, start, end)
    try:
        render_pdf(data, out)
    except OSError:
        raise InvalidInput(f"WearSync could not save the report in {out.parent}. Choose another folder.") from None
    return out


class DataPage(Page):
    key = "data"
    title = "Data"
    icon = "chart"
    subtitle = "One patient's heart rate, steps, sleep and exercises, in the patient's own local time."

    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.report_button = button("Report…", "import", on_click=self.save_report)
        self.report_button.setObjectName("reportButton")
        self.report_button.setProperty("tip", "Save a printable PDF of these days for the medical record.")
        self.header.action_row.addWidget(self.report_button)
        self._controls()
        self.banner = Banner("error", closable=True)
        self.layout_.addWidget(self.banner)
        self.readout = label("Point at a chart to read its values at that moment (patient's local time).", "help")
        self.readout.setObjectName("readout")
        self.layout_.addWidget(self.readout)
        self._charts()
        self.loader = Loader(ctx.bridge, self)
        self.loader.loaded.connect(self.show_view)
        self.loader.failed.connect(self._failed)
        self.loader.busy.connect(lambda busy: self.status.setText("Loading…" if busy else ""))
        self.night_loader = Loader(ctx.bridge, self)
        self.night_loader.loaded.connect(lambda pair: self.night.show_hypnogram(*pair))
        self.night_loader.failed.connect(self._failed)
        self.exercise_loader = Loader(ctx.bridge, self)
        self.exercise_loader.loaded.connect(lambda pair: self.exercise.show_heart_rate(*pair))
        self.exercise_loader.failed.connect(self._failed)
        self.night.night_chosen.connect(self._load_night)
        self.exercise.exercise_chosen.connect(self._load_exercise)
        self.view: PatientView | None = None
        self.drawing = False  # a view is being drawn, chart by chart
        self._draw_generation = 0
        self._patients_loaded = False
        self._pending_day: tuple[str, dt.date] | None = None
        self._set_range_days(7, clinic_today(ctx.app))
        self._show_devices([])
        self.apply_permissions()

    # -- layout ---------------------------------------------------------------------------
    def _controls(self) -> None:
        card = Card(margins=12)
        row = QHBoxLayout()
        row.setSpacing(8)
        row.addWidget(label("Patient"))
        self.patient = QComboBox()
        self.patient.setObjectName("patientPicker")
        self.patient.setMinimumWidth(160)
        self.patient.currentIndexChanged.connect(lambda _i: self.reload())
        row.addWidget(self.patient)
        row.addSpacing(16)
        row.addWidget(label("Show"))
        self.range = choice_box("rangePicker", RANGES, self._range_picked, current=1)
        row.addWidget(self.range)
        row.addStretch(1)
        self.status = label("", "muted")
        self.status.setObjectName("loadingStatus")
        row.addWidget(self.status)
        card.body.addLayout(row)
        row2, self.start_edit, self.end_edit = date_range_row(self._dates_edited)
        self.earlier = button("◀ Earlier", on_click=lambda: self._step(-1))
        self.earlier.setObjectName("earlierButton")
        self.earlier.setToolTip("The same number of days, just before these")
        self.later = button("Later ▶", on_click=lambda: self._step(1))
        self.later.setObjectName("laterButton")
        self.later.setToolTip("The same number of days, just after these")
        row2.addSpacing(8)
        row2.addWidget(self.earlier)
        row2.addWidget(self.later)
        row2.addStretch(1)
        card.body.addLayout(row2)
        self.devices_line = label("", "help")
        card.body.addWidget(self.devices_line)
        self.layout_.addWidget(card)

    def _charts(self) -> None:
        inner = QWidget()
        col = QVBoxLayout(inner)
        col.setContentsMargins(0, 0, 12, 0)
        col.setSpacing(14)
        self.hr = ChartBox("Heart rate", "bpm", height=200)
        self.steps = ChartBox("Steps", "steps")
        self.sleep = ChartBox("Sleep by stage, per night", "minutes", height=170)
        self.score = ChartBox("Sleep score", "score", height=120)
        self.activity = ChartBox("Daily activity (Polar)", "steps")
        self.main_boxes = [self.hr, self.steps, self.sleep, self.score, self.activity]
        for box in self.main_boxes:
            col.addWidget(box)
            if box is not self.hr:
                box.plot.setXLink(self.hr.plot)
        self.legend_note = label("Grey bands: the device had not synced with its vendor. Dashed lines: a new device "
                                 "was first used.", "help", wrap=True)
        col.addWidget(self.legend_note)
        self.night = NightPanel()
        self.exercise = ExercisePanel()
        self.night_card = Card(margins=14)
        self.night_card.body.addWidget(self.night)
        self.exercise_card = Card(margins=14)
        self.exercise_card.body.addWidget(self.exercise)
        col.addWidget(self.night_card)
        col.addWidget(self.exercise_card)
        col.addStretch(1)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(inner)
        self.scroll_area.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.layout_.addWidget(self.scroll_area, 1)
        # hover: one crosshair across the linked charts, one read-out line above them
        self.crosshairs: list[pg.InfiniteLine] = []
        for box in [*self.main_boxes, self.night.hypnogram, self.night.vitals, self.night.snoring, self.exercise.curve]:
            line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#9ca3af", width=1))
            line.hide()
            box.item.addItem(line, ignoreBounds=True)
            box.crosshair = line  # type: ignore[attr-defined]
            box.plot.scene().sigMouseMoved.connect(lambda pos, b=box: self._hover(b, pos))

    # -- permissions and showing ------------------------------------------------------------
    def apply_permissions(self) -> None:
        self.guard(self.report_button, "export")

    def shown(self) -> None:
        self.refresh_patients()

    def refresh_patients(self) -> None:
        self.ctx.bridge.submit(self.ctx.app.patients.list_patients, on_result=self._patients_listed,
                               on_error=self._failed, context=self)

    def _patients_listed(self, patients: list[Any]) -> None:
        current = self.patient.currentText()
        codes = [p.code for p in patients]
        self.patient.blockSignals(True)
        self.patient.clear()
        self.patient.addItems(codes)
        wanted = self._pending_day[0] if self._pending_day else (current or self._patient_selected_elsewhere())
        if wanted in codes:
            self.patient.setCurrentIndex(codes.index(wanted))
        self.patient.blockSignals(False)
        self._patients_loaded = True
        if not codes:
            self.status.setText("")
            self.banner.show_message("No patient yet. Add one on the Patients page; their data shows here once "
                                     "it is downloaded.", "info")
            return
        if self._pending_day is not None:
            code, day = self._pending_day
            self._pending_day = None
            self.open_day(code, day)
        else:
            self.reload()

    def _patient_selected_elsewhere(self) -> str:
        """The first time the page opens: the patient selected on the Patients page, if any."""
        pages = getattr(self.window(), "pages", {})
        selected = getattr(pages.get("patients"), "selected_code", None)
        code = selected() if callable(selected) else None
        return str(code or "")

    def open_day(self, patient: str, day: dt.date) -> None:
        """Show one patient's day (the compliance grid's cells open this)."""
        if not self._patients_loaded:
            self._pending_day = (patient, day)
            return
        i = self.patient.findText(patient, Qt.MatchFlag.MatchExactly)
        if i < 0:
            self.banner.show_message(f"Patient {patient} is not in the list any more.", "warning")
            return
        self.patient.blockSignals(True)
        self.patient.setCurrentIndex(i)
        self.patient.blockSignals(False)
        self.range.blockSignals(True)
        self.range.setCurrentIndex(0)
        self.range.blockSignals(False)
        self._set_dates(day, day)
        self.reload()

    # -- the range ------------------------------------------------------------------------
    def _set_dates(self, start: dt.date, end: dt.date) -> None:
        for edit, d in ((self.start_edit, start), (self.end_edit, end)):
            edit.blockSignals(True)
            edit.setDate(to_qdate(d))
            edit.blockSignals(False)

    def _set_range_days(self, days: int, end: dt.date) -> None:
        self._set_dates(end - dt.timedelta(days=days - 1), end)

    def _range_picked(self, _index: int) -> None:
        days = self.range.currentData()
        if days is None:
            return  # custom: the dates stay as they are, the user edits them
        self._set_range_days(int(days), clinic_today(self.ctx.app))
        self.reload()

    def _dates_edited(self, _d: QDate) -> None:
        self.range.blockSignals(True)
        self.range.setCurrentIndex(len(RANGES) - 1)
        self.range.blockSignals(False)
        self.reload()

    def _step(self, direction: int) -> None:
        start, end = self.dates()
        span = (end - start).days + 1
        shift = dt.timedelta(days=span * direction)
        self._set_dates(start + shift, end + shift)
        self.reload()

    def dates(self) -> tuple[dt.date, dt.date]:
        return from_qdate(self.start_edit.date()), from_qdate(self.end_edit.date())

    def check_range(self) -> str | None:
        """One plain sentence when the range cannot be shown, else None."""
        start, end = self.dates()
        if end < start:
            return "The end date is before the start date. Pick an end date on or after the start."
        if (end - start).days + 1 > MAX_DAYS:
            return f"That is more than {MAX_DAYS} days. Pick a shorter period."
        return None

    # -- loading ----------------------------------------------------------------------------
    def reload(self) -> None:
        code = self.patient.currentText()
        if not code:
            return
        problem = self.check_range()
        if problem:
            self.banner.show_message(problem, "warning")
            return
        self.banner.hide()
        start, end = self.dates()
        req = ViewRequest(code, start, end)
        charts = self.ctx.app.charts
        self.loader.request(lambda cancelled: load_view(charts, req, cancelled))

    def _failed(self, error: Exception) -> None:
        from gui.errors import advice_for

        self.status.setText("")
        self.banner.show_message(advice_for(error).message, "error")

    def show_view(self, view: PatientView) -> None:
        """Draw a loaded view one chart per turn of the event loop, so the window keeps answering
        (and repaints one chart at a time) however many charts the patient has."""
        self.view = view
        self._draw_generation += 1
        gen = self._draw_generation
        req = view.request
        x0, x1 = x_range_for(req.start, req.end)

        def prepare() -> None:
            self._show_devices(view.devices)
            for box in self.main_boxes:
                box.clear()
                box.item.addItem(box.crosshair, ignoreBounds=True)  # type: ignore[attr-defined]
                box.item.setLimits(xMin=x0 - 86400, xMax=x1 + 86400)
            self.hr.item.setXRange(x0, x1, padding=0)

        def marked(*boxes: ChartBox) -> None:
            if view.markers is not None:
                for box in boxes:
                    draw_markers(box, view.markers, with_labels=box is self.hr)

        def draw_heart_rate() -> None:
            self._draw_heart_rate(view)
            marked(self.hr)

        def draw_steps() -> None:
            self._draw_steps(view)
            marked(self.steps)

        def draw_sleep() -> None:
            self._draw_sleep(view)
            marked(self.sleep, self.score)

        def draw_activity() -> None:
            self._draw_activity(view)
            marked(self.activity)

        steps: list[Callable[[], None]] = [
            prepare,
            draw_heart_rate,
            draw_steps,
            draw_sleep,
            draw_activity,
            lambda: self.night.show_nights(view.nights),
            lambda: self.exercise.show_exercises(view.exercises),
        ]
        self.drawing = True

        def run(i: int) -> None:
            if gen != self._draw_generation:
                return  # a newer view took over
            steps[i]()
            if i + 1 < len(steps):
                QTimer.singleShot(0, self, lambda: run(i + 1))
            else:
                self.drawing = False

        run(0)

    def _show_devices(self, devices: list[str]) -> None:
        has = set(devices)
        self.hr.setVisible(True)  # every device type records heart rate (the mat during sleep)
        self.steps.setVisible("fitbit" in has or not has)
        self.sleep.setVisible(bool(has & {"fitbit", "withings"}))
        self.score.setVisible("withings" in has)  # the mat scores every night; Fitbit scores only in its app
        self.night_card.setVisible(bool(has & {"fitbit", "withings"}))
        self.activity.setVisible("polar" in has)
        self.exercise_card.setVisible("polar" in has)
        self.devices_line.setText("Device types: " + ", ".join(vendor_label(v) for v in devices) if devices else
                                  "No device type with data for this patient yet.")

    def _draw_heart_rate(self, view: PatientView) -> None:
        hr = view.heart_rate
        bands = {k: b for k, b in (hr.bands.items() if hr is not None else []) if b.x}
        resting = list(hr.resting) if hr is not None else []
        self.hr.set_empty(not bands and not resting)
        if hr is None:
            return
        for kind in ("sample", "sleep", "exercise"):
            if kind in bands:
                draw_band(self.hr, kind, bands[kind], hr.bucket_s)
        for kind, band in bands.items():
            if kind not in ("sample", "sleep", "exercise"):
                draw_band(self.hr, kind, band, hr.bucket_s)
        if resting:
            xs = np.asarray([x for x, _y in resting], dtype=float)
            ys = np.asarray([y for _x, y in resting], dtype=float)
            line = pg.PlotDataItem(xs, ys, pen=pg.mkPen(RESTING_COLOUR, width=2, style=Qt.PenStyle.DashLine),
                                   symbol="o", symbolSize=6, symbolBrush=RESTING_COLOUR, symbolPen=None)
            self.hr.item.addItem(line)
            self.hr.add_key(RESTING_COLOUR, "Resting heart rate", "●")
            self.hr.items["resting"] = line

        def at(x: float) -> str | None:
            parts = []
            for kind, band in bands.items():
                i = nearest(band.x, x, max(hr.bucket_s, 60))
                if i is not None:
                    parts.append(f"heart rate {band.avg[i]:.0f} bpm ({band.lo[i]:.0f}–{band.hi[i]:.0f})"
                                 + ("" if kind == "sample" else f" {kind}"))
            j = nearest([x for x, _y in resting], x, 43200)
            if j is not None:
                parts.append(f"resting {resting[j][1]:.0f} bpm")
            return " · ".join(parts) or None

        self.hr.readout = at

    def _draw_steps(self, view: PatientView) -> None:
        bars = view.steps
        has = bars is not None and bool(bars.x) and any(v for v in bars.values)
        per_day = bars is not None and bars.width_s >= 86400
        self.steps.title.setText("Steps per day" if per_day else "Steps per hour")
        self.steps.set_empty(not has)
        if not has:
            return
        draw_bars(self.steps, bars, STEPS_COLOUR, "steps")
        self.steps.readout = lambda x: _bar_at(bars, x, "steps")

    def _draw_sleep(self, view: PatientView) -> None:
        nights = list(view.nights)
        self.sleep.set_empty(not nights)
        if not nights:
            self.score.set_empty(True, "No sleep score for this patient in these days")
            return
        draw_stacked_nights(self.sleep, nights)
        scored = [n for n in nights if n.score is not None]
        if scored:
            self.score.setVisible(True)
        self.score.set_empty(not scored, "No sleep score for this patient in these days")
        if scored:
            draw_scores(self.score, scored)
            self.score.readout = lambda x: "; ".join(
                f"{n.vendor.capitalize()} sleep score {n.score}" for n in scored if n.start_x <= x <= n.end_x) or None

        def at(x: float) -> str | None:
            for n in nights:
                if n.start_x <= x <= n.end_x:
                    stages = ", ".join(f"{STAGE_STYLE[s][1].lower()} {m} min" for s, m in n.minutes_by_stage.items()
                                       if m and s in STAGE_STYLE)
                    score = f" · score {n.score}" if n.score is not None else ""
                    return f"night to {n.local_date:%d %b}: {stages}{score}"
            return None

        self.sleep.readout = at

    def _draw_activity(self, view: PatientView) -> None:
        bars = view.daily_activity
        has = bars is not None and bool(bars.x)
        self.activity.set_empty(not has)
        if not has:
            return
        draw_bars(self.activity, bars, ACTIVITY_COLOUR, "activity")
        self.activity.readout = lambda x: _bar_at(bars, x, "steps (Polar)")

    def _load_night(self, night: Any) -> None:
        if night is None or self.view is None:
            return
        charts, code = self.ctx.app.charts, self.view.request.patient

        def work(cancelled: threading.Event) -> tuple[Any, Any]:
            return night, charts.hypnogram(code, night.id)

        self.night_loader.request(work)

    def _load_exercise(self, exercise: Any) -> None:
        if exercise is None or self.view is None:
            return
        charts, code = self.ctx.app.charts, self.view.request.patient

        def work(cancelled: threading.Event) -> tuple[Any, Any]:
            return exercise, charts.exercise_heart_rate(code, exercise.id)

        self.exercise_loader.request(work)

    # -- hover ------------------------------------------------------------------------------
    def _hover(self, box: ChartBox, pos: QPointF) -> None:
        vb = box.item.getViewBox()
        if not box.plot.isVisible() or not vb.sceneBoundingRect().contains(pos):
            return
        x = float(vb.mapSceneToView(pos).x())
        self.read_at(box, x)

    def read_at(self, box: ChartBox, x: float) -> str:
        """Move the crosshair to `x` and say what each chart holds there."""
        group = self.main_boxes if box in self.main_boxes else [box]
        for b in group:
            b.crosshair.setPos(x)  # type: ignore[attr-defined]
            b.crosshair.show()  # type: ignore[attr-defined]
        parts = [p for p in (b.readout(x) for b in group if b.isVisible()) if p]
        text = local_text(x) + (" · " + " · ".join(parts) if parts else " · no data at this moment")
        if box not in self.main_boxes and parts:
            text = parts[0]
        self.readout.setText(text)
        return text

    # -- report -----------------------------------------------------------------------------
    def ask_report_path(self, suggested: Path) -> Path | None:
        """The save dialog (tests replace it)."""
        path, _filter = QFileDialog.getSaveFileName(self, "Save the report", str(suggested), "PDF files (*.pdf)")
        if not path:
            return None
        out = Path(path)
        return out if out.suffix.lower() == ".pdf" else out.with_suffix(".pdf")

    def save_report(self) -> None:
        code = self.patient.currentText()
        problem = self.check_range()
        if not code:
            self.banner.show_message("Pick a patient first.", "warning")
            return
        if problem:
            self.banner.show_message(problem, "warning")
            return
        start, end = self.dates()
        out = self.ask_report_path(documents_dir() / f"WearSync report {code} {start:%Y-%m-%d} to {end:%Y-%m-%d}.pdf")
        if out is None:
            return
        self.report_button.setEnabled(False)
        self.status.setText("Writing the report…")

        def done(path: Path) -> None:
            self.apply_permissions()
            self.status.setText("")
            self.report_saved(path)

        def failed(error: Exception) -> None:
            self.apply_permissions()
            self._failed(error)

        self.ctx.bridge.submit(build_report, self.ctx.app, code, start, end, out, on_result=done, on_error=failed,
                               context=self)

    def report_saved(self, path: Path) -> LocationDialog:
        dlg = LocationDialog("Report saved", "The report is saved here:", str(path),
                             [("Open the report", str(path)), ("Open the folder", str(path.parent))], parent=self)
        dlg.setObjectName("reportSaved")
        self.last_dialog = dlg
        dlg.show()
        return dlg


def _bar_at(bars: Any, x: float, words: str) -> str | None:
    for x0, v in zip(bars.x, bars.values, strict=True):
        if x0 <= x < x0 + bars.width_s:
            return f"{words} {v:,.0f}"
    return None
