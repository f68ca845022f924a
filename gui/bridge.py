"""The thin adapter between the Qt main thread and the services.

Every call that may touch the database, the keyring or the network goes through `Bridge.submit`:
it runs on a worker thread of a QThreadPool and its outcome comes back on the UI thread through
the typed signals of a `Task` (`succeeded(result)` carrying the service's own typed result,
`failed(Exception)` carrying a WearSyncError or an unexpected error). The UI thread only paints.

Delivery hops threads through a queued connection to a slot of the Task, which lives on the UI
thread, so callbacks always run there whatever kind of callable they are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)


class Task(QObject):
    """One service call in flight. Connect to its signals or pass callbacks to `submit`."""

    succeeded = Signal(object)  # the service's typed result: a dataclass, a list of them, str or None
    failed = Signal(Exception)
    finished = Signal()
    _deliver = Signal(object, object)  # (result, error) from the worker thread

    def __init__(self, name: str, context: QObject | None) -> None:
        super().__init__()
        self.name = name
        self._context = context
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False
        self._deliver.connect(self._on_deliver, Qt.ConnectionType.QueuedConnection)

    def context_alive(self) -> bool:
        return self._context is None or shiboken6.isValid(self._context)

    @Slot(object, object)
    def _on_deliver(self, result: Any, error: BaseException | None) -> None:
        self.result, self.error, self.done = result, error, True
        # a page closed while its call ran: nobody left to tell
        if self.context_alive():
            if error is None:
                self.succeeded.emit(result)
            else:
                self.failed.emit(error)
        self.finished.emit()


class _Runner(QRunnable):
    def __init__(self, task: Task, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._task, self._fn, self._args, self._kwargs = task, fn, args, kwargs

    def run(self) -> None:
        try:
            result = self._fn(*self._args, **self._kwargs)
        except Exception as exc:  # delivered to the UI, never lost in a worker thread
            self._task._deliver.emit(None, exc)
        else:
            self._task._deliver.emit(result, None)


class Bridge(QObject):
    """Runs service calls off the UI thread. `unhandled` carries errors no caller handled."""

    busy_changed = Signal(bool)
    unhandled = Signal(Exception)

    def __init__(self, max_threads: int = 4, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._tasks: set[Task] = set()

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def submit(
        self,
        fn: Callable[..., Any],
        *args: Any,
        on_result: Callable[[Any], object] | None = None,
        on_error: Callable[[Exception], object] | None = None,
        context: QObject | None = None,
        **kwargs: Any,
    ) -> Task:
        """Run `fn(*args, **kwargs)` on a worker; call `on_result`/`on_error` on the UI thread.

        Without `on_error` a failure goes to `unhandled` (the main window shows the right dialog).
        `context`: a widget whose destruction cancels the callbacks.
        """
        task = Task(getattr(fn, "__qualname__", repr(fn)), context)
        if on_result is not None:
            task.succeeded.connect(on_result)
        task.failed.connect(on_error if on_error is not None else self._report)
        task.finished.connect(lambda: self._forget(task))
        was_idle = not self._tasks
        self._tasks.add(task)
        if was_idle:
            self.busy_changed.emit(True)
        self._pool.start(_Runner(task, fn, args, kwargs))
        return task

    def _report(self, error: Exception) -> None:
        self.unhandled.emit(error)

    def _forget(self, task: Task) -> None:
        self._tasks.discard(task)
        task.deleteLater()
        if not self._tasks:
            self.busy_changed.emit(False)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Wait for running calls (at quit). Queued ones that have not started are dropped."""
        self._pool.clear()
        return bool(self._pool.waitForDone(timeout_ms))
