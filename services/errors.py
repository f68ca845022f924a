"""The one base class for errors WearSync shows to people.

Services raise subclasses carrying a short ``title`` and a plain-words ``message``; the GUI and the
CLI show those as they are, and pick the dialog that fixes the problem by the error's type.
"""


class WearSyncError(Exception):
    """An error whose ``message`` a clinic coordinator can read and act on."""

    def __init__(self, message: str, *, title: str = "WearSync") -> None:
        super().__init__(message)
        self.title = title
        self.message = message
