"""The MQTT 5 publisher over paho-mqtt: the only place in the project that imports paho (an import-linter contract).

`publisher` holds the lane's session with the broker on the asyncio loop; `client` the paho client with its
PUBACK shortcut. Everything the rest of the lane needs without paho (topics, handlers, packet sizes, the
relay's view of a publisher) is in agent/sync/link.py.
"""

from agent.sync.link import Handlers, Topics, publish_packet_size
from agent.sync.mqtt.publisher import Publisher

__all__ = ["Handlers", "Publisher", "Topics", "publish_packet_size"]
