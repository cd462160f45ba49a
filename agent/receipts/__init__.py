"""Receipts: the sale's structured receipt laid out for a thermal printer, the signed link to the e-receipt,
the `[receipts]` section, and the lane's printing flow.

Pure: `layout` (ESC/POS bytes from the receipt), `links` (signed receipt IDs), `settings`, `choice`.
I/O: `printing` (the printer, its status, the e-receipt offer, reprints). The sale is recorded before anything
here runs, so a printer that fails never holds a sale.
"""
