"""The publisher's own paths around paho: the PUBACK shortcut and writes batched per loop turn, on a real broker."""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import socket
from collections.abc import AsyncIterator
from typing import Any

import paho.mqtt.client as paho
import pytest
from paho.mqtt import _packet

from agent.health import ComponentHealth
from agent.sync.mqtt import Handlers, Publisher, publish_packet_size
from simulators.cloud.broker import MosquittoBroker
from simulators.cloud.scripted_broker import ScriptedBroker, mqtt_property
from simulators.doubles.waiting import wait_until
from simulators.lanes.sync import mqtt_section

pytestmark = [pytest.mark.broker, pytest.mark.timeout(60)]


@contextlib.asynccontextmanager
async def connected(port: int, handlers: Handlers) -> AsyncIterator[Publisher]:
    publisher = Publisher(mqtt_section(port), "store-001", "lane-01", handlers)
    task = asyncio.create_task(publisher.run(ComponentHealth("mqtt")))
    try:
        async with asyncio.timeout(15):
            await publisher.connected.wait()
        yield publisher
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_paho_still_has_the_puback_handler_the_publisher_replaces() -> None:
    # A paho release that renamed it would silently send every PUBACK down the slow path again.
    assert callable(vars(paho.Client).get("_handle_pubackcomp"))
    assert callable(vars(paho.Client).get("_do_on_publish"))


@pytest.fixture
def decoded_by_paho(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The PUBACKs paho decodes itself (a spy that still calls paho's decoder): (header, packet, protocol)."""
    decoded: list[Any] = []
    original = _packet.decode_puback

    def counting_decode(*args: Any) -> Any:
        decoded.append(args)
        return original(*args)

    monkeypatch.setattr(_packet, "decode_puback", counting_decode)
    return decoded


def mids_of(decoded: list[Any]) -> list[int]:
    return [int.from_bytes(packet[:2], "big") for _, packet, _ in decoded]


async def test_plain_pubacks_skip_pahos_decoding_and_each_reaches_on_puback_as_success(
        mqtt_broker: MosquittoBroker, decoded_by_paho: list[Any]) -> None:
    acks: list[tuple[int, int]] = []
    async with connected(mqtt_broker.port, Handlers(on_puback=lambda mid, rc: acks.append((mid, rc)))) as publisher:
        # The publisher subscribes to its store's catalog topic, so these have a subscriber: a bare success.
        mids = [publisher.publish_nowait(publisher.topics.catalog, b"x" * 300) for _ in range(50)]
        await wait_until(lambda: len(acks) == 50, 10)
        client = publisher._client
        assert client is not None and not client._out_messages   # paho's own bookkeeping was done too
    assert sorted(acks) == sorted((mid, 0) for mid in mids)
    assert not set(mids) & set(mids_of(decoded_by_paho))


async def test_a_puback_with_a_reason_code_keeps_its_code_on_the_shortcut(
        mqtt_broker: MosquittoBroker, decoded_by_paho: list[Any]) -> None:
    acks: list[tuple[int, int]] = []
    async with connected(mqtt_broker.port, Handlers(on_puback=lambda mid, rc: acks.append((mid, rc)))) as publisher:
        # Nothing subscribes to the scans topic here: mosquitto answers 0x10, "no matching subscribers".
        mid = publisher.publish_nowait(publisher.topics.lane("scans"), b"x" * 300)
        await wait_until(lambda: len(acks) == 1, 10)
    assert acks == [(mid, 0x10)]
    assert mid not in mids_of(decoded_by_paho)


async def test_a_puback_with_properties_takes_pahos_path_and_keeps_its_code(
        decoded_by_paho: list[Any]) -> None:
    # Reason 0x87 with a reason string: what a broker may send to explain a refusal.
    reason = mqtt_property(0x1F, b"denied by the test broker")
    broker = ScriptedBroker(puback_tail=bytes([0x87, len(reason)]) + reason)
    port = await broker.start()
    acks: list[tuple[int, int]] = []
    try:
        async with connected(port, Handlers(on_puback=lambda mid, rc: acks.append((mid, rc)))) as publisher:
            mid = publisher.publish_nowait(publisher.topics.lane("sales"), b"x" * 300)
            await wait_until(lambda: len(acks) == 1, 10)
    finally:
        await broker.close()
    assert acks == [(mid, 0x87)]
    assert mid in mids_of(decoded_by_paho)


async def test_a_burst_larger_than_the_socket_buffer_all_arrives_and_the_writer_is_dropped_after(
        mqtt_broker: MosquittoBroker) -> None:
    acks: list[int] = []
    async with connected(mqtt_broker.port, Handlers(on_puback=lambda mid, rc: acks.append(rc))) as publisher:
        payload = b"y" * 1_000_000
        link = publisher._link
        assert link is not None
        # A small send buffer: with the default one, a broker reading on the other core as fast as the loop
        # writes could take the whole burst without the socket ever filling, and the test would miss its path.
        link.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        for _ in range(40):   # 40 MB in one loop turn: the send buffer fills and the rest waits for writable
            publisher.publish_nowait(publisher.topics.lane("scans"), payload)
        await asyncio.sleep(0)
        assert link._write_waits, "the burst should have filled the socket"
        await wait_until(lambda: len(acks) == 40, 30)
        assert acks == [0x10] * 40   # no subscriber: mosquitto says so in each PUBACK
        await wait_until(lambda: not link._write_waits, 5)
        # Once drained, the selector must not keep reporting a writable socket (a busy loop at idle).
        selector = asyncio.get_running_loop()._selector  # type: ignore[attr-defined]
        assert selector.get_key(link.io.fileno()).events == selectors.EVENT_READ


async def test_the_publish_size_the_publisher_checks_is_the_size_that_arrives() -> None:
    # Across the one-, two- and three-byte remaining lengths: a publish exactly at the broker's limit must go.
    broker = ScriptedBroker()
    port = await broker.start()
    acks: list[int] = []
    try:
        async with connected(port, Handlers(on_puback=lambda mid, rc: acks.append(mid))) as publisher:
            topic = publisher.topics.lane("sales")
            header = 2 + len(topic) + 2 + 1   # topic length and topic, mid, properties length
            sizes = [0, 127 - header, 128 - header, 16_383 - header, 16_384 - header, 70_000]
            for size in sizes:
                publisher.publish_nowait(topic, b"x" * size)
            await wait_until(lambda: len(acks) == len(sizes), 10)
    finally:
        await broker.close()
    arrived = [size for (to, _), size in zip(broker.published, broker.publish_sizes, strict=True) if to == topic]
    assert arrived == [publish_packet_size(topic, b"x" * size) for size in sizes]
