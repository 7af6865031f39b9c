"""Where the API key goes: site and key, kept in the OS keyring (or this session only)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

SITES = [("cn", "China — runninghub.cn"), ("ai", "Global — runninghub.ai")]


class KeyDialog(QDialog):
    def __init__(self, site: str = "cn", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("RunningHub API key"))
        self.setObjectName("keyDialog")
        intro = QLabel(
            self.tr(
                "Paste the API key from your RunningHub account page (API → API key). "
                "rhdesk keeps it in your system's keyring, never in a file."
            ),
            self,
        )
        intro.setWordWrap(True)
        self.site = QComboBox(self)
        self.site.setObjectName("siteCombo")
        self.site.setAccessibleName(self.tr("Site"))
        for code, label in SITES:
            self.site.addItem(self.tr(label), code)
        self.site.setCurrentIndex(max(0, self.site.findData(site)))
        self.key = QLineEdit(self)
        self.key.setObjectName("keyEdit")
        self.key.setAccessibleName(self.tr("API key"))
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText(self.tr("API key"))
        self.show_key = QCheckBox(self.tr("Show"), self)
        self.show_key.toggled.connect(
            lambda on: self.key.setEchoMode(
                QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password
            )
        )
        self.session_only = QCheckBox(self.tr("Keep for this session only"), self)
        self.session_only.setToolTip(
            self.tr("Do not store the key; you will be asked again next time")
        )
        form = QFormLayout()
        form.addRow(self.tr("Site"), self.site)
        form.addRow(self.tr("API key"), self.key)
        form.addRow("", self.show_key)
        form.addRow("", self.session_only)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel,
            parent=self,
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        save.setEnabled(False)
        self.key.textChanged.connect(lambda t: save.setEnabled(len(t.strip()) >= 8))
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(form)
        lay.addWidget(self.buttons)
        self.resize(460, self.sizeHint().height())

    def values(self) -> tuple[str, str, bool]:
        return self.site.currentData(), self.key.text().strip(), self.session_only.isChecked()
