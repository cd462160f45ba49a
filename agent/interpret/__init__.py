"""What a code means: the router and its rules, GTINs, GS1 element strings, RCN templates, app tokens, meanings.

Pure: given a scan's text and the rules built from config, it returns exactly one meaning (product, member,
coupon, pickup order, staff, payment code, unknown, invalid with its reason), with no I/O but the reading of
trusted key files at start (`tokens.load_keys`). It may import the shared plumbing at `agent/` (errors,
config_table) and biip; never sqlite3, paho, aiohttp, httpx, serial or cv2, nor any other package of agent/.
"""
