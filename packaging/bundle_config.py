"""What the bundles leave out. Shared by packaging/rhdesk.spec and bench/floor.spec, so the
start-up benchmark compares rhdesk with a bare window bundled exactly the same way."""

from __future__ import annotations

import re
from collections.abc import Iterable

# PySide6 modules rhdesk never imports (it needs QtCore, QtGui, QtWidgets, QtNetwork).
_QT_UNUSED = """
    Qt3DAnimation Qt3DCore Qt3DExtras Qt3DInput Qt3DLogic Qt3DRender QtAxContainer QtBluetooth
    QtCharts QtConcurrent QtDataVisualization QtDBus QtDesigner QtGraphs QtHelp QtHttpServer
    QtLocation QtMultimedia QtMultimediaWidgets QtNetworkAuth QtNfc QtOpenGL QtOpenGLWidgets
    QtPdf QtPdfWidgets QtPositioning QtPrintSupport QtQml QtQuick QtQuick3D QtQuickControls2
    QtQuickTest QtQuickWidgets QtRemoteObjects QtScxml QtSensors QtSerialBus QtSerialPort
    QtSpatialAudio QtSql QtStateMachine QtSvg QtSvgWidgets QtTest QtTextToSpeech QtUiTools
    QtWebChannel QtWebEngineCore QtWebEngineQuick QtWebEngineWidgets QtWebSockets QtWebView QtXml
"""
QT_EXCLUDED_MODULES = [f"PySide6.{m}" for m in _QT_UNUSED.split()]
PY_EXCLUDED_MODULES = [
    "tkinter", "_tkinter", "PyQt5", "PyQt6", "PySide2", "IPython", "matplotlib", "numpy",
    "pytest", "_pytest", "pytestqt", "pytest_asyncio", "ruff", "setuptools", "pip",
    "lib2to3", "pydoc_data", "idlelib", "xmlrpc",
]  # fmt: skip
EXCLUDES = QT_EXCLUDED_MODULES + PY_EXCLUDED_MODULES

# Qt files the hooks still pull in that a widgets app does not use. Paths inside the bundle.
_QT = r"PySide6[/\\]Qt[/\\]"
_DROP = [
    # plugins for modules we exclude, and printing/SQL/QML/PDF/multimedia support
    _QT + r"plugins[/\\](designer|qmltooling|sqldrivers|multimedia|position|sensors|"
    r"webview|renderers|sceneparsers|geometryloaders|assetimporters|texttospeech|canbus|"
    r"printsupport|virtualkeyboard|qmllint|scenegraph)[/\\]",
    _QT + r"plugins[/\\]imageformats[/\\].*q(pdf|svg)\b",
    # embedded-device platforms (framebuffer, EGLFS, VNC, evdev input); xcb, wayland and
    # offscreen stay
    _QT + r"plugins[/\\](egldeviceintegrations|generic)[/\\]",
    _QT + r"plugins[/\\]platforms[/\\].*q(eglfs|linuxfb|minimal|minimalegl|vkkhrdisplay|vnc)\.",
    _QT + r"lib[/\\]libQt6EglF[Ss]",
    _QT + r"plugins[/\\]iconengines[/\\].*qsvgicon",
    # the GTK3 platform theme drags the build machine's whole GTK stack into the bundle;
    # without it Qt uses its own dialogs (the xdg-desktop-portal theme still works)
    _QT + r"plugins[/\\]platformthemes[/\\].*gtk3",
    # translations of Qt modules we do not ship (qtbase_*.qm stays: standard dialog buttons)
    _QT + r"translations[/\\](?!qtbase_|qt_)",
    # QML, and libraries only excluded modules use
    _QT + r"qml[/\\]",
    _QT + r"lib[/\\]libQt6(Pdf|Qml|Quick|Svg|Sql|Designer|Multimedia|WebEngine|3D|Charts|"
    r"Test|VirtualKeyboard|Positioning|Location|Sensors|SerialPort|StateMachine|Scxml)",
    r"(^|[/\\])(Qt6|lib)?(Pdf|Qml|Quick|Designer|WebEngine)[^/\\]*\.(dll|so[.\d]*|dylib)$",
]
_DROP_RE = re.compile("|".join(f"(?:{p})" for p in _DROP))
# The GTK/ATK/cairo stack the gtk3 theme would otherwise have brought along.
_GTK_RE = re.compile(
    r"(^|[/\\])lib(gtk-3|gdk-3|atk-1|atk-bridge-2|atspi|gdk_pixbuf-2|cairo|cairo-gobject|"
    r"pango-1|pangocairo-1|pangoft2-1|epoxy)\.(so|dylib)"
)


def dropped(dest: str) -> bool:
    return bool(_DROP_RE.search(dest) or _GTK_RE.search(dest))


def prune(toc: Iterable[tuple]) -> list[tuple]:
    """The PyInstaller TOC without what `dropped` names (entries are (dest, source, kind))."""
    return [entry for entry in toc if not dropped(str(entry[0]))]
