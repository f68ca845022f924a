"""The Secrets box of the Settings page: each secret masked, where it comes from, and Set / Reveal /
Test / Remove. Every keyring call runs on a worker (a locked keyring can block for a long time)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from gui.context import PageContext
from gui.errors import advice_for
from gui.widgets import Badge, Banner, Card, CopyTargetDialog, ElidedLabel, button, label, open_or_show
from services import secret_admin
from services.errors import SecretsLocked, SecretsUnavailable, WearSyncError
from services.secrets import SECRETS, SPEC_BY_NAME, SecretState, SecretStore

REVEAL_SECONDS = 20
# the set-up guide the "How do I get this?" links open (shipped beside resources/ in the bundle too)
GUIDE = Path(__file__).resolve().parents[3] / "docs" / "vendor-setup.md"


def guide_address(name: str, guide: Path = GUIDE) -> str:
    """The guide's section for one secret, as a file address with its anchor (file:///…/vendor-setup.md#polar)."""
    url = QUrl.fromLocalFile(str(guide))
    spec = SPEC_BY_NAME.get(name)
    section = spec.guide if spec else ""
    if section:
        url.setFragment(section)
    return url.toString()


@dataclass(frozen=True)
class SecretsView:
    states: list[SecretState]
    problem: WearSyncError | None  # the keyring is locked or missing
    importable: list[str]  # seed variable names present in the environment


def load_secrets(store: SecretStore, environ: dict[str, str]) -> SecretsView:
    problem: WearSyncError | None = None
    try:
        store.backend()
        store.get(SECRETS[0].name)  # surfaces a locked keyring, which states() reports as "missing"
    except (SecretsUnavailable, SecretsLocked) as exc:
        problem = exc
    importable = [s.name for s in SECRETS if environ.get(s.name)]
    return SecretsView(store.states(), problem, importable)


class SecretRow:
    def __init__(self, box: SecretsBox, grid: QGridLayout, row: int, state: SecretState) -> None:
        self.name = state.spec.name
        name = label(state.spec.label, wrap=True)  # two lines rather than a page that scrolls sideways
        name.setToolTip(f"{state.spec.help}\nEnvironment variable: {self.name}")
        self.guide = label('<a href="guide">How do I get this?</a>', "help")
        self.guide.setObjectName(f"guide_{self.name}")
        self.guide.setToolTip(f"{state.spec.help}\nOpens the set-up guide at the part about this.")
        self.guide.setTextFormat(Qt.TextFormat.RichText)
        self.guide.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                           | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.guide.linkActivated.connect(lambda _link: box.open_guide(self.name))
        name_cell = QVBoxLayout()
        name_cell.setSpacing(0)
        name_cell.addWidget(name)
        name_cell.addWidget(self.guide)
        self.value = ElidedLabel("", "mono", mode=Qt.TextElideMode.ElideMiddle)  # long IDs never widen the page
        self.value.setObjectName(f"value_{self.name}")
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.badge = Badge()
        self.badge.setObjectName(f"source_{self.name}")
        self.set_button = button("Set…", on_click=lambda: box.set_secret(self.name))
        self.set_button.setObjectName(f"set_{self.name}")
        self.reveal_button = button("Reveal", on_click=lambda: box.reveal(self.name))
        self.reveal_button.setObjectName(f"reveal_{self.name}")
        self.test_button = button("Test", on_click=lambda: box.test(self.name))
        self.remove_button = button("Remove", danger=True, on_click=lambda: box.remove(self.name))
        self.remove_button.setObjectName(f"remove_{self.name}")
        policy = self.reveal_button.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # keeps the button columns aligned
        self.reveal_button.setSizePolicy(policy)
        actions = QHBoxLayout()
        actions.setSpacing(6)
        for b in self.buttons:
            actions.addWidget(b)
        grid.addLayout(name_cell, row, 0)
        grid.addWidget(self.value, row, 1)
        grid.addWidget(self.badge, row, 2, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        grid.addLayout(actions, row, 3)
        self.update(state)

    @property
    def buttons(self) -> tuple[QPushButton, ...]:
        return (self.set_button, self.reveal_button, self.test_button, self.remove_button)

    def update(self, state: SecretState) -> None:
        self.state = state
        self.value.setText(state.masked or "—")
        present = state.source != "missing"
        if present:
            self.badge.set_status(state.source)
            self.badge.setToolTip("Saved in this computer's password store." if state.source == "keyring" else
                                  f"Given to WearSync when it starts (environment variable {self.name}); it wins "
                                  "over a saved value.")
        else:
            # only what the daily work needs is "Missing"; an optional one is simply not set
            self.badge.set_status("missing" if state.spec.required else "not_set")
            self.badge.setToolTip("Needed: set it with Set…" if state.spec.required else
                                  "Optional: set it only if you use what it is for.")
        self.reveal_button.setVisible(state.spec.sensitive)
        self.reveal_button.setEnabled(present)
        self.test_button.setEnabled(present)
        self.remove_button.setEnabled(state.source == "keyring")
        self.remove_button.setToolTip("Set by an environment variable: remove it there."
                                      if state.source == "environment" else "")


class SecretsBox(Card):
    def __init__(self, ctx: PageContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        head = QHBoxLayout()
        head.addWidget(label("Secrets", "section"), 1)
        self.import_button = button("Import from the old system", "import", on_click=self.import_env)
        self.import_button.setObjectName("importSecrets")
        head.addWidget(self.import_button)
        self.body.addLayout(head)
        self.body.addWidget(label("Client IDs, passwords and tokens are saved in this computer's secure password "
                                  "store. One marked \"Set at start-up\" is given to WearSync when it starts and "
                                  "is used instead.", "help", wrap=True))
        self.banner = Banner("warning")
        self.banner.setObjectName("secretsBanner")
        self.banner.action_clicked.connect(self.refresh)
        self.body.addWidget(self.banner)
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(14)
        self.grid.setVerticalSpacing(8)
        self.grid.setColumnStretch(1, 1)
        self.body.addLayout(self.grid)
        self.rows: dict[str, SecretRow] = {}
        self.view: SecretsView | None = None
        self.remask = QTimer(self)
        self.remask.setSingleShot(True)
        self.remask.timeout.connect(self._remask_all)

    # -- loading --------------------------------------------------------------------------
    def refresh(self) -> None:
        self.ctx.bridge.submit(load_secrets, self.ctx.app.secrets, dict(self.ctx.app.environ),
                               on_result=self._loaded, context=self)

    def _loaded(self, view: SecretsView) -> None:
        self.view = view
        if view.problem is not None:
            self.banner.show_message(advice_for(view.problem).message, "warning", "Try again")
        else:
            self.banner.hide()
        if not self.rows:
            self._build(view.states)
        for st in view.states:
            self.rows[st.spec.name].update(st)
        self.import_button.setToolTip(
            "Found: " + ", ".join(view.importable) if view.importable else
            "The old system's settings (environment variables such as FITBIT_CLIENT_ID) are not set here.")
        self.apply_permissions()

    def _build(self, states: list[SecretState]) -> None:
        row = 0
        group = None
        for st in states:
            if st.spec.group != group:
                group = st.spec.group
                heading = label(group, "muted")
                heading.setStyleSheet("font-weight: 600; margin-top: 6px;")
                self.grid.addWidget(heading, row, 0, 1, 4)
                row += 1
            self.rows[st.spec.name] = SecretRow(self, self.grid, row, st)
            row += 1

    def apply_permissions(self) -> None:
        allowed = self.ctx.session.can("secrets")
        for r in self.rows.values():
            for b in r.buttons:
                if not allowed:
                    b.setEnabled(False)
            if allowed:
                r.update(r.state)
        self.import_button.setEnabled(allowed and bool(self.view and self.view.importable))

    # -- actions --------------------------------------------------------------------------
    def _after_change(self, _result: object = None) -> None:
        self.refresh()

    def set_secret(self, name: str) -> None:
        row = self.rows[name]
        value = self.ctx.dialogs.ask_text(self, f"Set {row.state.spec.label}",
                                          f"{row.state.spec.help}\n\nNew value:", secret=row.state.spec.sensitive)
        if value is None:
            return
        self.ctx.bridge.submit(secret_admin.set_secret, self.ctx.app, self.ctx.session.actor, name, value.strip(),
                               on_result=self._after_change,
                               context=self)

    def reveal(self, name: str) -> None:
        row = self.rows[name]
        if not self.ctx.dialogs.confirm(self, "Show secret?", f"Show {row.state.spec.label} on screen for "
                                        f"{REVEAL_SECONDS} seconds? Make sure nobody is looking.", "Show"):
            return
        self.ctx.bridge.submit(secret_admin.reveal_secret, self.ctx.app, self.ctx.session.actor, name,
                               on_result=lambda v: self._show_value(name, str(v)), context=self)

    def _show_value(self, name: str, value: str) -> None:
        self.rows[name].value.setText(value)
        self.remask.start(REVEAL_SECONDS * 1000)

    def _remask_all(self) -> None:
        for r in self.rows.values():
            r.value.setText(r.state.masked or "—")

    def test(self, name: str) -> None:
        label_ = self.rows[name].state.spec.label
        # asks the vendor or the mail server itself; an answer it did not get is an error, never an "OK"
        self.ctx.bridge.submit(secret_admin.test_secret, self.ctx.app, self.ctx.session.actor, name,
                               on_result=lambda msg: self.ctx.dialogs.info(self, label_, str(msg)), context=self)

    def open_guide(self, name: str) -> CopyTargetDialog | None:
        """The guide at this secret's section; without a browser, its address with Copy."""
        return open_or_show(self, guide_address(name))

    def remove(self, name: str) -> None:
        row = self.rows[name]
        if not self.ctx.dialogs.confirm(self, "Remove secret?", f"Remove {row.state.spec.label} from the password "
                                        "store? Whatever uses it stops working until it is set again.",
                                        "Remove", danger=True):
            return
        self.ctx.bridge.submit(secret_admin.delete_secret, self.ctx.app, self.ctx.session.actor, name,
                               on_result=self._after_change, context=self)

    def import_env(self) -> None:
        names = self.view.importable if self.view else []
        if not names or not self.ctx.dialogs.confirm(
                self, "Import secrets?", "Copy these environment variables into the password store?\n\n"
                + "\n".join(names), "Import"):
            return
        self.ctx.bridge.submit(secret_admin.import_secrets, self.ctx.app, self.ctx.session.actor, names,
                               on_result=self._imported, context=self)

    def _imported(self, done: list[str]) -> None:
        self.ctx.dialogs.info(self, "Secrets imported", f"Imported {len(done)} secret(s) into the password store.")
        self.refresh()
