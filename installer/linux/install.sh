#!/bin/sh
# Install the Linux autostart entry (window at log-in) or the headless systemd user unit.
#   installer/linux/install.sh autostart   # the window starts when you log in to the desktop
#   installer/linux/install.sh headless    # a server without a desktop: systemd user service
set -eu
DIR=$(cd "$(dirname "$0")/../.." && pwd)
case "${1:-}" in
  autostart)
    mkdir -p "$HOME/.config/autostart"
    sed "s|@WEARSYNC_DIR@|$DIR|g" "$DIR/installer/linux/wearsync-autostart.desktop" \
      > "$HOME/.config/autostart/wearsync.desktop"
    echo "WearSync will start when you log in ($HOME/.config/autostart/wearsync.desktop)."
    ;;
  headless)
    mkdir -p "$HOME/.config/systemd/user"
    sed "s|@WEARSYNC_DIR@|$DIR|g" "$DIR/installer/linux/wearsync-headless.service" \
      > "$HOME/.config/systemd/user/wearsync-headless.service"
    systemctl --user daemon-reload
    systemctl --user enable --now wearsync-headless.service
    echo "Started. Logs: journalctl --user -u wearsync-headless -f"
    echo "To keep it running after you log out: loginctl enable-linger $USER"
    ;;
  *)
    echo "usage: $0 autostart|headless" >&2
    exit 2
    ;;
esac
