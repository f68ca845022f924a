"""Withdraw patient: the patient withdrew consent. Says what will happen, asks what becomes of
the data (a choice made now, nothing pre-selected), then revokes vendor access and deletes or
keeps the data — all on a worker (vendor calls), via services/patients/withdrawal.py.

If a vendor cannot be reached nothing is deleted; the dialog says so and offers "Finish anyway",
which completes the withdrawal here and names the vendors where the patient should remove
WearSync themselves.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QButtonGroup, QCheckBox, QDialog, QHBoxLayout, QRadioButton, QVBoxLayout, QWidget

from gui.context import PageContext
from gui.errors import advice_for
from gui.format import vendor_label
from gui.widgets import button, label
from services.patients.service import DeletionPreview
from services.patients.withdrawal import WithdrawalIncomplete, WithdrawalResult, vendor_revoke, withdraw_patient


class WithdrawDialog(QDialog):
    withdrawn = Signal(WithdrawalResult)

    def __init__(self, ctx: PageContext, code: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.code = code
        self.result_: WithdrawalResult | None = None
        self.setWindowTitle(f"Withdraw {code}")
        self.setObjectName("withdrawDialog")
        self.setModal(True)
        self.setMinimumWidth(540)
        col = QVBoxLayout(self)
        col.setContentsMargins(24, 20, 24, 18)
        col.setSpacing(10)
        title = label(f"Withdraw patient {code}", "title")
        col.addWidget(title)
        self.intro = label(
            "Use this when the patient withdraws their consent. WearSync first revokes its access at each "
            "connected vendor (Google for Fitbit, Polar, Withings), so nothing more can be downloaded, and links "
            "already sent to the patient stop working. Then it deletes or keeps their data, as you choose below.",
            wrap=True)
        col.addWidget(self.intro)
        self.preview = label("Looking up the patient's connections and data…", "muted", wrap=True)
        self.preview.setObjectName("withdrawPreview")
        col.addWidget(self.preview)

        self.choice_box = QWidget()
        choices = QVBoxLayout(self.choice_box)
        choices.setContentsMargins(0, 6, 0, 0)
        choices.setSpacing(4)
        choices.addWidget(label("What happens to the data downloaded so far?", "section"))
        self.delete_data = QRadioButton("Delete it now")
        self.delete_data.setObjectName("deleteData")
        self.keep_data = QRadioButton("Keep it for the study")
        self.keep_data.setObjectName("keepData")
        self.group = QButtonGroup(self)
        for radio, text in (
            (self.delete_data, f"Every measurement, sleep record and device of {code} is deleted at once, with "
                               "the patient ID. There is no undo: the patient asked for it."),
            (self.keep_data, "The data downloaded until today stays in the database and in Grafana, as the "
                             "consent form allows; nothing new is downloaded. The ID stays, marked Withdrawn."),
        ):
            self.group.addButton(radio)
            radio.toggled.connect(lambda _on: self._update())
            choices.addWidget(radio)
            hint = label(text, "help", wrap=True)
            hint.setContentsMargins(26, 0, 0, 6)
            choices.addWidget(hint)
        col.addWidget(self.choice_box)
        self.confirm = QCheckBox("The patient asked to withdraw, and the choice above is what they agreed to.")
        self.confirm.setObjectName("confirmWithdraw")
        self.confirm.toggled.connect(lambda _on: self._update())
        col.addWidget(self.confirm)

        self.status = label("", "muted", wrap=True)
        self.status.setObjectName("withdrawStatus")
        self.status.hide()
        col.addWidget(self.status)
        self.error = label("", "error", wrap=True)
        self.error.setObjectName("withdrawError")
        self.error.hide()
        col.addWidget(self.error)

        row = QHBoxLayout()
        row.addStretch(1)
        self.cancel_button = button("Cancel", on_click=self.reject)
        self.force_button = button("Finish anyway", danger=True, on_click=lambda: self.run(force=True))
        self.force_button.setObjectName("finishAnyway")
        self.force_button.hide()
        self.withdraw_button = button("Withdraw patient", danger=True, on_click=lambda: self.run(force=False))
        self.withdraw_button.setObjectName("withdrawButton")
        self.close_button = button("Close", primary=True, on_click=self.accept)
        self.close_button.hide()
        for b in (self.cancel_button, self.force_button, self.withdraw_button, self.close_button):
            row.addWidget(b)
        col.addLayout(row)
        self.busy = False
        self._update()
        ctx.bridge.submit(ctx.app.patients.preview_delete, code, on_result=self._previewed,
                          on_error=self._preview_failed, context=self)

    def _previewed(self, preview: DeletionPreview) -> None:
        devices = ", ".join(vendor_label(v) for v in preview.vendors) or "no device type"
        self.preview.setText(f"{preview.code}: {devices}; {preview.total_rows:,} downloaded data rows.")

    def _preview_failed(self, error: Exception) -> None:
        self.preview.setText(advice_for(error).message)

    def _update(self) -> None:
        chosen = self.delete_data.isChecked() or self.keep_data.isChecked()
        self.withdraw_button.setEnabled(chosen and self.confirm.isChecked() and not self.busy
                                        and self.ctx.session.can("patients.delete"))
        self.force_button.setEnabled(not self.busy)

    def run(self, force: bool) -> None:
        if not (self.delete_data.isChecked() or self.keep_data.isChecked()) or not self.confirm.isChecked():
            return
        app, actor, code, keep = self.ctx.app, self.ctx.session.actor, self.code, self.keep_data.isChecked()
        self.busy = True
        self._update()
        self.error.hide()
        self.choice_box.setEnabled(False)
        self.confirm.setEnabled(False)
        self.status.setText("Revoking access at the vendors… this can take a few seconds.")
        self.status.show()
        # vendor_revoke builds the connection service on first use: in the worker too
        self.ctx.bridge.submit(lambda: withdraw_patient(app, code, actor, keep, vendor_revoke(app, actor), force),
                               on_result=self._done, on_error=self._failed, context=self)

    def _done(self, result: WithdrawalResult) -> None:
        self.busy = False
        self.result_ = result
        self.status.setText(result.describe())
        self.status.setProperty("role", None)
        self.status.setStyleSheet("")
        for w in (self.choice_box, self.confirm, self.cancel_button, self.withdraw_button, self.force_button,
                  self.error):
            w.hide()
        self.close_button.show()
        self.withdrawn.emit(result)

    def _failed(self, error: Exception) -> None:
        self.busy = False
        self.status.hide()
        self.error.setText(advice_for(error).message)
        self.error.show()
        if isinstance(error, WithdrawalIncomplete):
            self.force_button.show()
            self.withdraw_button.setText("Try again")
        else:
            self.choice_box.setEnabled(True)
            self.confirm.setEnabled(True)
        self._update()
