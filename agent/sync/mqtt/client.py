"""paho's client with a shortcut for PUBACKs without properties: nearly all of them."""

from __future__ import annotations

from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

# The reason codes a PUBACK may carry, made once: paho makes a new ReasonCode per PUBACK (copying its table of
# names each time) and a new Properties. Shared, and never changed by a reader.
_PUBACK_REASONS = {code: ReasonCode(PacketTypes.PUBACK, identifier=code)
                   for code, uses in ReasonCode.names.items()
                   if any(PacketTypes.PUBACK in packet_types for packet_types in uses.values())}
_NO_PROPERTIES = Properties(PacketTypes.PUBACK)  # type: ignore[no-untyped-call]


class PahoClient(paho.Client):
    """paho's client with a shortcut for PUBACKs without properties: nearly all of them.

    Why: paho decodes every MQTT 5 PUBACK into new ReasonCode and Properties objects (two of each when a
    reason code is present), a fifth of the loop thread's time during a drain. By MQTT 5 section 3.4.2, a
    PUBACK of remaining length 2 is success with no properties, and one of length 3 carries a reason code and
    no properties; both go to `on_publish` with shared objects, the code intact (a refusal is still one).
    A PUBACK with properties (a reason string) or an unknown code takes paho's own path. An MQTT 3.1.1 PUBACK
    (always 2 bytes, no reason code) takes the shortcut as success.
    tests/lane/test_mqtt_publisher.py checks both paths, and that paho still has the method replaced here.
    """

    def _handle_pubackcomp(self, cmd: Any) -> MQTTErrorCode:
        packet = self._in_packet["packet"]
        reason = None
        if cmd == "PUBACK" and self._protocol == MQTTProtocolVersion.MQTTv5 and 2 <= len(packet) <= 3:
            reason = _PUBACK_REASONS.get(packet[2] if len(packet) == 3 else 0)
        elif cmd == "PUBACK" and self._protocol == MQTTProtocolVersion.MQTTv311 and len(packet) == 2:
            reason = _PUBACK_REASONS.get(0)      # a 3.1.1 PUBACK has no reason code: it can only say "received"
        if reason is None:
            return super()._handle_pubackcomp(cmd)
        mid = int.from_bytes(packet[:2], "big")
        with self._out_message_mutex:
            if mid in self._out_messages:
                return self._do_on_publish(mid, reason, _NO_PROPERTIES)
        return MQTTErrorCode.MQTT_ERR_SUCCESS


def reply_properties(correlation: bytes | None) -> Properties | None:
    """MQTT 5 PUBLISH properties of an answer: the request's Correlation Data (None: no properties)."""
    if correlation is None:
        return None
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.CorrelationData = correlation
    return properties


def response_of(message: paho.MQTTMessage) -> tuple[str | None, bytes | None]:
    """An MQTT 5 request's Response Topic and Correlation Data (None, None under 3.1.1 or without them)."""
    properties = getattr(message, "properties", None)
    topic = getattr(properties, "ResponseTopic", None)
    correlation = getattr(properties, "CorrelationData", None)
    return (topic if isinstance(topic, str) else None,
            bytes(correlation) if isinstance(correlation, bytes | bytearray) else None)
