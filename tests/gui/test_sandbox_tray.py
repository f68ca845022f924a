"""A sandbox WearSync next to the real one: its tray icon looks different (an amber "S" mark) and says
"WearSync (sandbox)", so nobody quits or opens the wrong one."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtGui import QImage

from gui.tray import Tray

pytestmark = pytest.mark.gui


def amber_pixels(img: QImage) -> int:
    """Pixels of the sandbox mark's amber in the lower right quarter."""
    n = 0
    for x in range(img.width() // 2, img.width()):
        for y in range(img.height() // 2, img.height()):
            c = img.pixelColor(x, y)
            n += c.red() > 180 and 80 < c.green() < 160 and c.blue() < 80
    return n


def test_sandbox_tray_icon_and_tooltip_are_its_own(qtbot, make_shell) -> None:
    shell = make_shell(tray=True)
    real = Tray(shell.ctx)
    sandbox = Tray(dataclasses.replace(shell.ctx, sandbox=True))
    try:
        assert real.icon.toolTip() == "WearSync" and sandbox.icon.toolTip() == "WearSync (sandbox)"
        real_img = real.icon.icon().pixmap(32, 32).toImage()
        sandbox_img = sandbox.icon.icon().pixmap(32, 32).toImage()
        assert not real_img.isNull() and not sandbox_img.isNull()
        assert real_img != sandbox_img  # a different picture, not only a different tooltip
        assert amber_pixels(sandbox_img) > 40 and amber_pixels(real_img) == 0  # the mark, lower right
    finally:
        real.hide()
        sandbox.hide()
