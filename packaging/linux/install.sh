#!/bin/sh
# Install rhdesk for the current user, no root needed:
#   the program in ~/.local/lib/rhdesk, a `rhdesk` command in ~/.local/bin, the menu entry,
#   icons and AppStream metadata under ~/.local/share.
# Usage: ./install.sh              install (or update) from this unpacked tarball
#        ./install.sh --uninstall  remove it again (your history and results are kept)
# PREFIX=/some/where ./install.sh installs under another prefix instead of ~/.local.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=${PREFIX:-"$HOME/.local"}
APPDIR="$PREFIX/lib/rhdesk"
BIN="$PREFIX/bin"
SHARE="$PREFIX/share"
DESKTOP="$SHARE/applications/rhdesk.desktop"
METAINFO="$SHARE/metainfo/io.github.rhdesk.rhdesk.metainfo.xml"
SIZES="16 24 32 48 64 128 256 512"

refresh() {
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$SHARE/applications" 2>/dev/null || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1; then
        gtk-update-icon-cache -q -t "$SHARE/icons/hicolor" 2>/dev/null || true
    fi
}

uninstall() {
    rm -rf "$APPDIR"
    if [ -L "$BIN/rhdesk" ]; then rm -f "$BIN/rhdesk"; fi
    rm -f "$DESKTOP" "$METAINFO"
    for n in $SIZES; do rm -f "$SHARE/icons/hicolor/${n}x${n}/apps/rhdesk.png"; done
    refresh
    echo "rhdesk removed. Your history and results are still in your data and Pictures folders."
}

case "${1:-}" in
    --uninstall) uninstall; exit 0 ;;
    "") ;;
    *) echo "usage: $0 [--uninstall]" >&2; exit 2 ;;
esac

if [ ! -x "$HERE/rhdesk/rhdesk" ]; then
    echo "install.sh: $HERE/rhdesk/rhdesk is missing; run me from the unpacked tarball" >&2
    exit 1
fi

mkdir -p "$PREFIX/lib" "$BIN" "$SHARE/applications" "$SHARE/metainfo"
rm -rf "$APPDIR.new"
cp -R "$HERE/rhdesk" "$APPDIR.new"
cp "$HERE/install.sh" "$APPDIR.new/install.sh"
rm -rf "$APPDIR"
mv "$APPDIR.new" "$APPDIR"
ln -sf "$APPDIR/rhdesk" "$BIN/rhdesk"

sed -e "s|^Exec=rhdesk |Exec=\"$APPDIR/rhdesk\" |" -e "s|^TryExec=rhdesk\$|TryExec=$APPDIR/rhdesk|" \
    "$HERE/share/applications/rhdesk.desktop" > "$DESKTOP"
cp "$HERE/share/metainfo/io.github.rhdesk.rhdesk.metainfo.xml" "$METAINFO"
for n in $SIZES; do
    mkdir -p "$SHARE/icons/hicolor/${n}x${n}/apps"
    cp "$HERE/share/icons/hicolor/${n}x${n}/apps/rhdesk.png" "$SHARE/icons/hicolor/${n}x${n}/apps/"
done
refresh

echo "rhdesk installed in $APPDIR."
echo "Start it from your applications menu, or run: $BIN/rhdesk"
case ":$PATH:" in
    *":$BIN:"*) ;;
    *) echo "Note: $BIN is not on your PATH; add it to run \`rhdesk\` from a terminal." ;;
esac
echo "To remove it: $APPDIR/install.sh --uninstall"
