"""The MQTT 5 publisher over paho-mqtt: the only place in the project that imports paho (an import-linter contract).

`publisher` holds the lane's session with the broker on the asyncio loop; `client` the paho client with its
PUBACK shortcut. Everything the rest of the lane needs without paho (topics, handlers, packet sizes, the
relay's view of a publisher) is in agent/sync/publisher_link.py.
"""

from agent.sync.mqtt.publisher import Publisher
from agent.sync.publisher_link import Handlers, Topics, publish_packet_size

__all__ = ["Handlers", "Publisher", "Topics", "publish_packet_size"]
