"""The local API: HTTP and WebSocket on loopback or a unix socket, the event hub, `/metrics` (metrics.py and
lane_collector.py, the only modules that import prometheus_client) and the kiosk page.

The only package that imports aiohttp's server. Other packages reach it only through what the composition
root (`agent/app.py`) wires, such as `EventHub.publish`; it may import the shared plumbing at `agent/`.
"""
