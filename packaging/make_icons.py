"""Render resources/icons/rhdesk.svg into every size the three desktops want.

Writes resources/icons/hicolor/<n>x<n>/apps/rhdesk.png (16…512), rhdesk.ico (Windows, 16…256)
and rhdesk.icns (macOS, 16…1024). Run it after editing the SVG:

    python packaging/make_icons.py
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "resources" / "icons"
SVG = ICONS / "rhdesk.svg"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)


def render(svg: Path, size: int):  # noqa: ANN201 - PIL.Image.Image
    """The SVG drawn by Qt's own renderer at ``size``×``size``, as a Pillow RGBA image."""
    from PIL import Image
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"make_icons: {svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    buf.close()
    return Image.open(io.BytesIO(bytes(data))).convert("RGBA")


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    images = {n: render(SVG, n) for n in sorted(set(PNG_SIZES + ICO_SIZES + ICNS_SIZES))}
    for n in PNG_SIZES:
        out = ICONS / "hicolor" / f"{n}x{n}" / "apps" / "rhdesk.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        images[n].save(out, optimize=True)
        print(f"wrote {out.relative_to(ROOT)}")
    largest_ico = images[max(ICO_SIZES)]
    largest_ico.save(
        ICONS / "rhdesk.ico",
        sizes=[(n, n) for n in ICO_SIZES],
        append_images=[images[n] for n in ICO_SIZES if n != max(ICO_SIZES)],
    )
    print("wrote resources/icons/rhdesk.ico")
    images[1024].save(
        ICONS / "rhdesk.icns",
        append_images=[images[n] for n in ICNS_SIZES if n != 1024],
    )
    print("wrote resources/icons/rhdesk.icns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
