"""Sync: where each patient's data stands, when WearSync downloads, and the history of downloads.

For each patient × vendor the state badge tells apart "the device has not synced to the vendor",
"our download failed" and "data arrived but the device was not worn" (services/sync/status.py),
next to a strip of the last 14 days. Days older than the catch-up limit that were never downloaded
(WearSync was off longer than `catchup_max_days`) show as one warning per connection with a Backfill
button that opens the Backfill dialog on exactly those days. The scheduler card shows the daily time (Change time…), the
next and last run; "Update now" and "Backfill…" run through the bridge, never on the UI thread,
with progress delivered by typed signals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui import theme
from gui.context import PageContext
from gui.format import ago, local, vendor_label, when
from gui.pages.base import Page
from gui.pages.sync.strip import CELLS_ROLE, COLOURS, CoverageStripDelegate, strip_tooltip
from gui.widgets import BadgeDelegate, Banner, Card, EmptyState, button, label
from services.sync.catchup import Gap, gaps_beyond, max_days_setting
from services.sync.status import ConnectionState, RunInfo, connection_states, recent_runs

if TYPE_CHECKING:
    from services.sync.scheduler import SchedulerStatus
    from services.sync.service import SyncProgress, SyncRunResult

STATUS_ROLE = 257  # Qt.UserRole + 1, read by BadgeDelegate
STRIP_DAYS = 14
GAPS_SHOWN = 5  # warnings about days to backfill; the rest are counted in one line

# verdicts and run results drawn as badges (theme.BADGES holds the connection states)
theme.BADGES.update({
    "sync:ok": ("Up to date", "#dcfce7", "#166534"),
    "sync:download_failed": ("Download failed", "#fee2e2", "#991b1b"),
    "sync:device_not_synced": ("Device not synced", "#fef3c7", "#92400e"),
    "sync:not_worn": ("Not worn", "#e2e8f0", "#334155"),
    "sync:needs_reconsent": ("Needs re-consent", "#fef3c7", "#92400e"),
    "sync:waiting": ("Not downloaded yet", "#e0ecff", "#1e40af"),
    "sync:inactive": ("Not active", "#eef1f4", "#6b7280"),
    "run:ok": ("Completed", "#dcfce7", "#166534"),
    "run:partial": ("Some problems", "#fef3c7", "#92400e"),
    "run:failed": ("Failed", "#fee2e2", "#991b1b"),
    "run:running": ("Running / stopped", "#e0ecff", "#1e40af"),
    "run:cancelled": ("Cancelled", "#eef1f4", "#374151"),
    "run:interrupted": ("Interrupted", "#fef3c7", "#92400e"),
})
TRIGGERS = {"schedule": "Daily schedule", "catchup": "Catch-up", "manual": "Update now", "backfill": "Backfill",
            "cli": "Command line", "sandbox": "Sandbox demo", "first": "New connection"}


@dataclass(frozen=True)
class SyncView:
    states: list[ConnectionState]
    runs: list[RunInfo]
    scheduler: SchedulerStatus | None
    gaps: tuple[Gap, ...] = ()  # days older than the catch-up limit, not downloaded: to backfill


def load_view(app: Any, today: dt.date | None = None) -> SyncView:
    """Runs on a worker thread: everything the page shows, in one go."""
    after = int(app.settings.get("alert_after_days"))
    today = today or app.clock.today()
    states = connection_states(app.db, today, days=STRIP_DAYS, alert_after_days=after,
                               now=app.clock.utcnow())
    sched = app.scheduler.status() if getattr(app, "scheduler", None) is not None else None
    gaps = gaps_beyond(app.db, today, max_days_setting(app.settings))
    return SyncView(states, recent_runs(app.db), sched, tuple(gaps))


class SyncSignals(QObject):
    """Progress from worker threads, delivered on the UI thread (queued across threads)."""

    step = Signal(str)  # what is being downloaded now


class SyncPage(Page):
    key = "sync"
    title = "Sync"
    icon = "sync"
    subtitle = "Where each patient's data stands, and when WearSync downloads it."

    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.signals = SyncSignals(self)
        self.signals.step.connect(self._on_step)
        self.backfill_button = button("Backfill…", "import", on_click=self.open_backfill)
        self.backfill_button.setObjectName("backfillButton")
        self.backfill_button.setProperty("tip", "Download a range of past days for chosen patients.")
        self.update_button = button("Update now", "refresh", primary=True, on_click=self.update_now)
        self.update_button.setObjectName("updateNowButton")
        self.update_button.setProperty("tip", "Download now for every connection not yet updated today.")
        self.header.action_row.addWidget(self.backfill_button)
        self.header.action_row.addWidget(self.update_button)
        self.notice = Banner("info", closable=True)
        self.notice.setObjectName("syncNotice")
        self.layout_.addWidget(self.notice)
        # downloads cut short when WearSync last ended (shut down, log-off, crash): said once, at start
        self.interrupted = Banner("info", closable=True)
        self.interrupted.setObjectName("interruptedNotice")
        self.layout_.addWidget(self.interrupted)
        notes = list(getattr(ctx.app, "interrupted_notes", None) or [])
        if notes:
            self.interrupted.show_message("\n".join(notes), "info")
        self.gap_box = QWidget()
        self.gap_box.setObjectName("gapWarnings")
        self.gap_rows = QVBoxLayout(self.gap_box)
        self.gap_rows.setContentsMargins(0, 0, 0, 0)
        self.gap_rows.setSpacing(6)
        self.gap_banners: list[Banner] = []
        self.gap_box.hide()
        self.layout_.addWidget(self.gap_box)
        self.layout_.addWidget(self._scheduler_card())
        self.layout_.addWidget(self._progress_row())

        self.table = self._status_table()
        self.empty = EmptyState("sync", "Nothing to download yet",
                                "Add a patient on the Patients page and connect their vendor account; "
                                "where their data stands will be shown here.",
                                button("Go to Patients", on_click=lambda: ctx.navigate("patients")))
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)
        top = QWidget()
        col = QVBoxLayout(top)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.stack, 1)
        col.addWidget(self._legend())
        bottom = QWidget()
        col2 = QVBoxLayout(bottom)
        col2.setContentsMargins(0, 8, 0, 0)
        col2.addWidget(label("Recent downloads", "section"))
        self.history = self._history_table()
        col2.addWidget(self.history, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        self.layout_.addWidget(split, 1)

        self.view: SyncView | None = None
        self.running: str | None = None  # "update" while Update now runs
        self.timer = QTimer(self, interval=30_000)
        self.timer.timeout.connect(self.refresh)
        ctx.events.patients_changed.connect(self.refresh)
        self.apply_permissions()

    # -- building -------------------------------------------------------------------------
    def _scheduler_card(self) -> QWidget:
        card = Card(margins=12)
        row = QHBoxLayout()
        self.schedule_label = label("", wrap=True)
        self.schedule_label.setObjectName("scheduleLabel")
        row.addWidget(self.schedule_label, 1)
        self.time_button = button("Change time…", "edit", on_click=self.change_time)
        self.time_button.setObjectName("changeTimeButton")
        row.addWidget(self.time_button)
        card.body.addLayout(row)
        return card

    def _progress_row(self) -> QWidget:
        self.progress_box = QWidget()
        row = QHBoxLayout(self.progress_box)
        row.setContentsMargins(0, 0, 0, 0)
        self.progress = QProgressBar()
        self.progress.setObjectName("updateProgress")
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(220)
        self.progress_label = label("", "muted")
        row.addWidget(self.progress)
        row.addWidget(self.progress_label, 1)
        self.progress_box.hide()
        return self.progress_box

    def _status_table(self) -> QTableWidget:
        t = QTableWidget(0, 5)
        t.setObjectName("syncTable")
        t.setHorizontalHeaderLabels(["Patient", "Device", "State", f"Last {STRIP_DAYS} days", "What it means"])
        t.setItemDelegateForColumn(2, BadgeDelegate(t))
        t.setItemDelegateForColumn(3, CoverageStripDelegate(t))
        t.setMouseTracking(True)
        self._table_style(t)
        hdr = t.horizontalHeader()
        hdr.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        for col, width in ((0, 96), (1, 116), (2, 164), (3, 16 + STRIP_DAYS * 15)):
            hdr.resizeSection(col, width)
        t.setWordWrap(True)
        return t

    def _history_table(self) -> QTableWidget:
        t = QTableWidget(0, 6)
        t.setObjectName("historyTable")
        t.setHorizontalHeaderLabels(["Started", "Started by", "Result", "Connections", "Rows", "Problems"])
        t.setItemDelegateForColumn(2, BadgeDelegate(t))
        self._table_style(t)
        hdr = t.horizontalHeader()
        hdr.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        for col, width in ((0, 150), (1, 130), (2, 150), (3, 120), (4, 90)):
            hdr.resizeSection(col, width)
        return t

    @staticmethod
    def _table_style(t: QTableWidget) -> None:
        t.verticalHeader().hide()
        t.verticalHeader().setDefaultSectionSize(40)
        t.setShowGrid(False)
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        hdr = t.horizontalHeader()
        hdr.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        hdr.setHighlightSections(False)

    def _legend(self) -> QWidget:
        """Three to a row, so every explanation is readable whole at any window width."""
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(4, 4, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        for i, status in enumerate(("complete", "partial", "missing", "not_worn", "failed", "none", "excluded")):
            colour, text = COLOURS[status]
            swatch = QLabel()
            swatch.setFixedSize(10, 10)
            # the empty-day colour is near white: a border keeps its swatch visible
            swatch.setStyleSheet(f"background: {colour}; border: 1px solid #9ca3af; border-radius: 2px;")
            r, c = divmod(i, 3)
            grid.addWidget(swatch, r, c * 2)
            grid.addWidget(label(text, "help"), r, c * 2 + 1)
        for c in range(3):
            grid.setColumnStretch(c * 2 + 1, 1)
        return box

    # -- permissions and refresh ------------------------------------------------------------
    def apply_permissions(self) -> None:
        self.guard(self.update_button, "sync.run")
        self.guard(self.backfill_button, "sync.run")
        for banner in getattr(self, "gap_banners", []):
            self.guard(banner.button, "sync.run")
        self.guard(self.time_button, "settings")
        if self.running:
            self.update_button.setEnabled(False)

    def shown(self) -> None:
        self.refresh()
        self.timer.start()

    def hideEvent(self, event: Any) -> None:
        self.timer.stop()
        super().hideEvent(event)

    def refresh(self) -> None:
        self.ctx.bridge.submit(load_view, self.ctx.app, on_result=self._loaded, context=self)

    def _loaded(self, view: SyncView) -> None:
        self.view = view
        self._fill_states(view.states)
        self._fill_gaps(list(view.gaps))
        self._fill_runs(view.runs)
        # one source for "last finished": the newest finished run of any kind (the history below)
        finished = [r.finished_at for r in view.runs if r.finished_at is not None]
        self._show_schedule(view.scheduler, max(finished) if finished else None)

    def _fill_states(self, states: list[ConnectionState]) -> None:
        t = self.table
        t.setRowCount(len(states))
        for i, st in enumerate(states):
            device = vendor_label(st.vendor) + (f"\n{st.device_model}" if st.device_model else "")
            dev_item = QTableWidgetItem(device)
            synced = when(st.device_last_sync, never="not reported by the vendor")
            dev_item.setToolTip(f"Device last synced to {vendor_label(st.vendor)}: {synced}\n"
                                f"Last download by WearSync: {ago(st.last_download, never='never')}")
            badge = QTableWidgetItem(st.headline)
            badge.setData(STATUS_ROLE, f"sync:{st.verdict}")
            badge.setData(Qt.ItemDataRole.AccessibleTextRole, st.headline)
            strip = QTableWidgetItem("")
            strip.setData(CELLS_ROLE, list(st.cells))
            strip.setData(Qt.ItemDataRole.AccessibleTextRole, strip_tooltip(list(st.cells)))
            detail = QTableWidgetItem(st.detail)
            detail.setToolTip(st.detail)
            for col, item in enumerate((QTableWidgetItem(st.patient_code), dev_item, badge, strip, detail)):
                t.setItem(i, col, item)
            t.setRowHeight(i, 48)
        self.stack.setCurrentWidget(self.table if states else self.empty)

    def _fill_gaps(self, gaps: list[Gap]) -> None:
        """One warning per connection with days to backfill, each with its own Backfill button."""
        while self.gap_rows.count():
            item = self.gap_rows.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.gap_banners = []
        for gap in gaps[:GAPS_SHOWN]:
            banner = Banner("warning")
            banner.setObjectName(f"gapWarning_{gap.connection_id}")
            banner.show_message(gap.message(), "warning", action="Backfill…")
            banner.button.setObjectName(f"gapBackfill_{gap.connection_id}")
            banner.action_clicked.connect(lambda g=gap: self.open_backfill(g))
            self.gap_rows.addWidget(banner)
            self.gap_banners.append(banner)
        if len(gaps) > GAPS_SHOWN:
            more = len(gaps) - GAPS_SHOWN
            self.gap_rows.addWidget(label(f"{more} more patient device{'s' if more != 1 else ''} also "
                                          "need a backfill of days WearSync did not download.", "muted", wrap=True))
        self.gap_box.setVisible(bool(gaps))
        self.apply_permissions()

    def _fill_runs(self, runs: list[RunInfo]) -> None:
        t = self.history
        t.setRowCount(len(runs))
        for i, r in enumerate(runs):
            result = QTableWidgetItem("")
            known = ("ok", "partial", "failed", "cancelled", "interrupted")
            result.setData(STATUS_ROLE, f"run:{r.status}" if r.status in known else "run:running")
            started = QTableWidgetItem(when(r.started_at))
            started.setToolTip(f"Finished: {when(r.finished_at, never='not finished')}")
            n = max(r.connections_total, r.connections_ok + r.connections_failed)
            conns = QTableWidgetItem(f"{r.connections_ok} of {n} ok" if n else "—")
            if r.status == "cancelled":
                conns.setToolTip("Cancelled: the others were not finished. What was downloaded is kept.")
            problems = QTableWidgetItem(r.problems)
            problems.setToolTip(r.summary)
            for col, item in enumerate((started, QTableWidgetItem(TRIGGERS.get(r.trigger, r.trigger)), result, conns,
                                        QTableWidgetItem(f"{r.rows_written:,}"), problems)):
                t.setItem(i, col, item)

    def _show_schedule(self, st: SchedulerStatus | None, last_finished: dt.datetime | None = None) -> None:
        if st is None:
            sync_time = str(self.ctx.app.settings.get("sync_time")) if hasattr(self.ctx.app, "settings") else "00:00"
            self.schedule_label.setText(f"Daily download at {sync_time}. The scheduler is not running in this "
                                        "window; downloads start with \"Update now\".")
            return
        parts = [f"Daily download at {st.sync_time}"]
        if st.busy:
            parts.append(f"downloading now ({TRIGGERS.get(st.current_trigger or '', 'running')})")
        elif st.next_run is not None:
            parts.append(f"next: {st.next_run:%a %d %b %H:%M}")
        # the scheduler's own end is an aware local time, the run history's a naive UTC one (the database's)
        ends = [t.astimezone(dt.UTC) for t in (st.last_finished,) if t is not None]
        ends += [t.replace(tzinfo=dt.UTC) for t in (last_finished,) if t is not None]
        if ends:
            parts.append(f"last finished: {local(max(ends).replace(tzinfo=None)):%a %d %b %H:%M}")
        text = " · ".join(parts) + "."
        if st.last_error:
            text += f" The last run had a problem: {st.last_error}"
        self.schedule_label.setText(text)

    # -- actions ----------------------------------------------------------------------------
    def change_time(self) -> None:
        current = self.view.scheduler.sync_time if self.view and self.view.scheduler else "00:00"
        raw = self.ctx.dialogs.ask_text(self, "Daily download time",
                                        f"Download every day at (24-hour time, HH:MM; now {current}):")
        if raw is None:
            return
        sched = getattr(self.ctx.app, "scheduler", None)
        actor = self.ctx.session.actor  # the services check the role and audit the change

        def save_time(value: str) -> object:
            if sched is not None:
                return sched.set_sync_time(value, actor)
            self.ctx.app.settings.set("sync_time", value, actor=actor)
            return None

        self.ctx.bridge.submit(save_time, raw.strip(), on_result=lambda _r: self._time_saved(),
                               on_error=lambda e: self.notice.show_message(getattr(e, "message", str(e)), "error"),
                               context=self)

    def _time_saved(self) -> None:
        self.notice.show_message("The daily download time was changed.", "info")
        self.refresh()

    def update_now(self) -> None:
        sync = getattr(self.ctx.app, "sync", None)
        if sync is None or self.running:
            return
        self.running = "update"
        self.update_button.setEnabled(False)
        self.progress.setRange(0, 0)  # busy: Update now has no fixed total
        self.progress_label.setText("Updating every connection not yet updated today…")
        self.progress_box.show()
        self.notice.hide()

        def step(p: SyncProgress) -> None:  # worker thread: hand over to the UI thread
            self.signals.step.emit(f"Downloading {p.patient_code} · {vendor_label(p.vendor)} · "
                                   f"{p.data_type.replace('_', ' ')}…")

        self.ctx.bridge.submit(sync.update_now, progress=step, actor=self.ctx.session.actor,
                               on_result=self._updated, on_error=self._update_failed,
                               context=self)

    def _on_step(self, text: str) -> None:
        self.progress_label.setText(text)

    def _updated(self, run: SyncRunResult) -> None:
        self._update_done()
        failed = [r for r in run.results if not r.ok]
        self.notice.show_message(run.summary, "warning" if failed else "info")
        self.refresh()

    def _update_failed(self, error: Exception) -> None:
        self._update_done()
        self.notice.show_message(getattr(error, "message", f"The update stopped: {error}"), "error")

    def _update_done(self) -> None:
        self.running = None
        self.progress_box.hide()
        self.apply_permissions()

    def open_backfill(self, gap: Gap | None = None) -> None:
        """The Backfill dialog; from a gap warning, pre-filled with that patient, device and days."""
        from gui.pages.sync.backfill_dialog import BackfillDialog, Prefill

        running = getattr(self, "backfill_dialog", None)
        if running is not None and shiboken6.isValid(running) and (running.running or running.isVisible()):
            # one backfill at a time: the one under way, with its progress and Cancel, comes back
            running.show()
            running.raise_()
            running.activateWindow()
            return
        runner = getattr(self, "backfill_runner", None)  # a seam for tests; the real download otherwise
        prefill = Prefill(gap.patient_code, gap.vendor, gap.start, gap.end) if gap is not None else None
        dialog = BackfillDialog(self.ctx, self, prefill=prefill, **({"runner": runner} if runner is not None else {}))
        dialog.finished_run.connect(lambda _run: self.refresh())
        dialog.show()  # non-modal: the window stays usable while it downloads
        self.backfill_dialog = dialog
