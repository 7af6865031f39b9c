"""The floor for the start-up benchmark: a bare PySide6 window, nothing else.

Bundled by bench/floor.spec with the same excludes as rhdesk. Prints the same probe line as
`rhdesk --startup-probe` once the window has painted and the event loop is idle, then quits.
"""

from __future__ import annotations

import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow


class _FirstPaint(QObject):
    def __init__(self, window: QMainWindow, app: QApplication) -> None:
        super().__init__(window)
        self.app = app
        window.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint:
            obj.removeEventFilter(self)
            QTimer.singleShot(0, self.fire)
        return False

    def fire(self) -> None:
        print(f"rhdesk-startup-probe {time.time():.6f}", flush=True)
        self.app.quit()


def main() -> int:
    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.setWindowTitle("floor")
    window.setCentralWidget(QLabel("A bare PySide6 window"))
    window.resize(1440, 860)
    _FirstPaint(window, app)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
