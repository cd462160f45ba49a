#!/bin/sh
# Copy the lane's /metrics to where node_exporter's textfile collector reads it (docs/monitoring.md, "Scraping").
# Run it every 30 s to a minute (a systemd timer or cron). The file is replaced whole (written, then renamed), so
# node_exporter never reads half of it; when the agent does not answer the file is removed and the script fails,
# so stale numbers never look current. Tested by tests/lane/test_monitoring.py against a running lane.
#   OMO_EDGE_METRICS_URL  default http://127.0.0.1:8765/metrics ([api] listen)
#   OMO_EDGE_API_SOCKET   the unix socket path when [api] listen = "unix:..." (then the URL's host is ignored)
#   TEXTFILE_DIR          default /var/lib/prometheus/node-exporter (Debian's --collector.textfile.directory)
set -eu
url=${OMO_EDGE_METRICS_URL:-http://127.0.0.1:8765/metrics}
dir=${TEXTFILE_DIR:-/var/lib/prometheus/node-exporter}
tmp="$dir/omo_edge.prom.$$"
set -- --fail --silent --show-error --max-time 10 --output "$tmp"
if [ -n "${OMO_EDGE_API_SOCKET:-}" ]; then
  set -- "$@" --unix-socket "$OMO_EDGE_API_SOCKET"
fi
if curl "$@" "$url"; then
  mv "$tmp" "$dir/omo_edge.prom"
else
  rm -f "$tmp" "$dir/omo_edge.prom"
  exit 1
fi
