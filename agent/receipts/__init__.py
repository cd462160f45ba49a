"""Receipts: the sale's structured receipt laid out for a thermal printer, the signed link to the e-receipt,
the `[receipts]` section, and the lane's printing flow.

Pure: `layout` (ESC/POS bytes from the receipt), `text`, `links` (signed receipt IDs), `settings`, `choice`.
I/O: `printing` (the printer, its status, the e-receipt offer, reprints). The sale is recorded before anything
here runs, so a printer that fails never holds a sale.

May import: the plumbing (config_table, health, store), `agent.sync.outbox` (the `omo.receipt/1` event, from
`printing` only), python-escpos and `drivers.printers` / `drivers.escpos_text` (lazily, inside the functions
that print). Never the session, the API or the attendant: app.py hands it each committed sale.
"""
