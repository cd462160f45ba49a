#!/usr/bin/env bash
# Install (or update) omo-edge as a hardened systemd service. Idempotent: run it again after an upgrade.
# Never overwrites an existing /etc/omo-edge/agent.toml or credential.
#
#   sudo systemd/install.sh [--extras camera] [--start] [--root DIR] [--no-venv] [--package PATH]
#
# --root DIR installs into DIR instead of / (for packaging and tests): no user, no systemctl, no udevadm.
# --no-venv leaves /opt/omo-edge/venv alone (a package that ships its own Python environment).
# --package PATH installs that built wheel (or source tree) instead of this source tree.
# Admins run `omo-edge` from /usr/local/bin (a wrapper that finds the credentials where the unit loads them).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
root=""
extras=""
start=no
venv=yes
package=""
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=${2%/}; shift 2 ;;
    --extras) extras=$2; shift 2 ;;
    --start) start=yes; shift ;;
    --no-venv) venv=no; shift ;;
    --package) package=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$root" ] || [ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root (sudo)" >&2; exit 1; }

user=omo-edge
prefix=$root/opt/omo-edge
etc=$root/etc/omo-edge
say() { printf 'install.sh: %s\n' "$*"; }

if [ -z "$root" ] && ! id "$user" >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /var/lib/omo-edge --no-create-home --shell /usr/sbin/nologin "$user"
  say "created system user $user"
fi
owner() { [ -z "$root" ] && chown "$@" || true; }

install -d -m 0755 "$prefix"
if [ "$venv" = yes ]; then
  [ -x "$prefix/venv/bin/python" ] || python3 -m venv "$prefix/venv"
  "$prefix/venv/bin/pip" install --quiet --upgrade "${package:-$src}${extras:+[$extras]}"
  say "installed the agent into $prefix/venv"
fi
install -m 0644 "$src/README.md" "$prefix/README.md"
# On the admins' PATH. A wrapper, not a symlink: a command run by hand finds the secrets the config names bare
# where the unit's LoadCredential= lines load them from (systemd gives only the service $CREDENTIALS_DIRECTORY).
install -d -m 0755 "$root/usr/local/bin"
cat > "$root/usr/local/bin/omo-edge.new" <<'WRAPPER'
#!/bin/sh
# omo-edge, installed by systemd/install.sh (an upgrade rewrites this file).
export CREDENTIALS_DIRECTORY="${CREDENTIALS_DIRECTORY:-/etc/omo-edge/credentials}"
exec /opt/omo-edge/venv/bin/omo-edge "$@"
WRAPPER
chmod 0755 "$root/usr/local/bin/omo-edge.new"
mv -f "$root/usr/local/bin/omo-edge.new" "$root/usr/local/bin/omo-edge"

install -d -m 0750 "$etc" "$etc/keys"
owner root:"$user" "$etc" "$etc/keys"
install -d -m 0700 "$etc/credentials"
for name in cloud.token mqtt.password lane.key; do
  if [ ! -e "$etc/credentials/$name" ]; then
    install -m 0600 /dev/null "$etc/credentials/$name"
  fi
done
if [ ! -e "$etc/agent.toml" ]; then
  install -m 0640 "$src/config/agent.example.toml" "$etc/agent.toml"
  owner root:"$user" "$etc/agent.toml"
  say "wrote $etc/agent.toml from the example: set store_id, lane_id and your devices"
else
  say "kept the existing $etc/agent.toml"
fi

install -D -m 0644 "$src/systemd/omo-edge.service" "$root/etc/systemd/system/omo-edge.service"
install -D -m 0644 "$src/systemd/99-omo-edge.rules" "$root/etc/udev/rules.d/99-omo-edge.rules"
# The site's own scanners go in a file of its own, created once and never overwritten (upgrades replace the above).
if [ ! -e "$root/etc/udev/rules.d/99-omo-edge-local.rules" ]; then
  cat > "$root/etc/udev/rules.d/99-omo-edge-local.rules" <<'RULES'
# omo-edge: this register's own scanners and cameras (docs/operations/udev.md). install.sh created this file
# and never overwrites it; 99-omo-edge.rules beside it is replaced at every upgrade, so do not edit that one.
# Example, a USB-serial scanner (lsusb shows vendor:product):
# SUBSYSTEM=="tty", ATTRS{idVendor}=="1a86", ATTRS{idProduct}=="7523", ENV{ID_MM_DEVICE_IGNORE}="1", GROUP="omo-edge", MODE="0660"
RULES
  chmod 0644 "$root/etc/udev/rules.d/99-omo-edge-local.rules"
fi
if [ -z "$root" ]; then
  udevadm control --reload-rules 2>/dev/null && udevadm trigger 2>/dev/null || say "udev not running: rules apply at next boot"
  systemctl daemon-reload
  systemctl enable omo-edge.service >/dev/null
  say "enabled omo-edge.service; check the config with: sudo omo-edge config check"
  if [ "$start" = yes ]; then systemctl restart omo-edge.service; say "started"; fi
fi
