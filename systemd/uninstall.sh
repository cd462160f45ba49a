#!/usr/bin/env bash
# Remove the omo-edge service, its udev rules, program files and /usr/local/bin/omo-edge. Keeps /etc/omo-edge and
# /var/lib/omo-edge (the lane database may hold sales not yet confirmed by the cloud) and the site's
# /etc/udev/rules.d/99-omo-edge-local.rules unless --purge.
#
#   sudo systemd/uninstall.sh [--purge] [--root DIR]
set -euo pipefail
root=""
purge=no
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=${2%/}; shift 2 ;;
    --purge) purge=yes; shift ;;
    *) echo "uninstall.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$root" ] || [ "$(id -u)" -eq 0 ] || { echo "uninstall.sh: run as root (sudo)" >&2; exit 1; }
if [ -z "$root" ] && systemctl list-unit-files omo-edge.service >/dev/null 2>&1; then
  systemctl disable --now omo-edge.service 2>/dev/null || true
fi
rm -f "$root/etc/systemd/system/omo-edge.service" "$root/etc/udev/rules.d/99-omo-edge.rules"
rm -rf "$root/opt/omo-edge"
if grep -qs "installed by systemd/install.sh" "$root/usr/local/bin/omo-edge"; then rm -f "$root/usr/local/bin/omo-edge"; fi
if [ "$purge" = yes ]; then
  rm -rf "$root/etc/omo-edge" "$root/var/lib/omo-edge" "$root/etc/udev/rules.d/99-omo-edge-local.rules"
  [ -n "$root" ] || userdel omo-edge 2>/dev/null || true
  echo "uninstall.sh: purged configuration and state"
else
  echo "uninstall.sh: kept /etc/omo-edge, /var/lib/omo-edge and the site's udev rules (use --purge to remove them)"
fi
[ -n "$root" ] || { systemctl daemon-reload; udevadm control --reload-rules 2>/dev/null || true; }
