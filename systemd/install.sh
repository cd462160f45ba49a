#!/usr/bin/env bash
# Install (or update) omo-edge as a hardened systemd service. Idempotent: run it again after an upgrade.
# Never overwrites an existing /etc/omo-edge/agent.toml or credential.
#
#   sudo systemd/install.sh [--extras camera] [--start] [--root DIR] [--no-venv]
#
# --root DIR installs into DIR instead of / (for packaging and tests): no user, no systemctl, no udevadm.
# --no-venv leaves /opt/omo-edge/venv alone (a package that ships its own Python environment).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
root=""
extras=""
start=no
venv=yes
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=${2%/}; shift 2 ;;
    --extras) extras=$2; shift 2 ;;
    --start) start=yes; shift ;;
    --no-venv) venv=no; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
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
  "$prefix/venv/bin/pip" install --quiet --upgrade "$src${extras:+[$extras]}"
  say "installed the agent into $prefix/venv"
fi
install -m 0644 "$src/README.md" "$prefix/README.md"

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
if [ -z "$root" ]; then
  udevadm control --reload-rules 2>/dev/null && udevadm trigger 2>/dev/null || say "udev not running: rules apply at next boot"
  systemctl daemon-reload
  systemctl enable omo-edge.service >/dev/null
  say "enabled omo-edge.service; check the config with: $prefix/venv/bin/omo-edge config check --config /etc/omo-edge/agent.toml"
  if [ "$start" = yes ]; then systemctl restart omo-edge.service; say "started"; fi
fi
