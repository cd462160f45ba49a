"""The local API: HTTP and WebSocket on loopback or a unix socket, the event hub, and (later) metrics and the
kiosk page.

The only package that imports aiohttp's server. Other packages reach it only through what the composition
root (`agent/app.py`) wires, such as `EventHub.publish`; it may import the shared plumbing at `agent/`.
"""
