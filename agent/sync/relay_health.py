"""What the outbox relay says in /v1/health: ok, or degraded with a reason an operator can act on.

Why apart from the relay: the drain (agent/sync/relay.py) is about the order and pace of publishes; the
reasons it gives are about what is wrong on the broker or in lane.db and what to do. Three reasons, most
urgent first: an event the broker cannot take (too large), seqs another copy of lane.db wrote, a publish the
broker refused (ok again only after two quiet housekeeping rounds). Imports the agent's health and errors only.
"""

from __future__ import annotations

import logging

from agent.clock import Clock
from agent.health import ComponentHealth
from agent.sync.confirmations import Reuse

logger = logging.getLogger("agent.sync.relay")   # the relay's log name: log filters stay as they were


class RelayHealth:
    """The relay's health reasons and counters, reported to the supervisor's ComponentHealth."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.component = ComponentHealth("relay")     # until the supervisor hands its own to the relay's run()
        self.too_large: dict[int, str] = {}           # row id -> why the broker cannot take it on this connection
        self._refused_at = -1e9

    def supervised_by(self, component: ComponentHealth) -> None:
        self.component = component

    def packet_too_large(self, row_id: int, topic_class: str, seq: int, reason: object) -> bool:
        """A row the broker would close the connection for: said once per connection (True: said now)."""
        if row_id in self.too_large:
            return False
        self.too_large[row_id] = (f"{topic_class} event seq {seq} cannot be sent: {reason}. It stays in the "
                                  "outbox; raise the broker's maximum packet size (mosquitto: max_packet_size) "
                                  "and it goes on the next connection")
        logger.error("%s", self.too_large[row_id])
        self.component.count("publish_too_large")
        return True

    def reconnected(self) -> None:
        """A new connection: the rows too large for the last broker are tried again (its successor may differ)."""
        self.too_large.clear()

    def refused(self, rc: int) -> None:
        self._refused_at = self.clock.monotonic()
        self.component.count("publish_refused")
        self.component.degraded(f"broker refused a publish (reason 0x{rc:02x}, e.g. 0x87 not authorized); "
                                "check the broker ACL for this lane's topics. The row stays unsent")

    def seqs_reused(self, reuse: Reuse) -> None:
        logger.warning("%s: lane.db was restored from an older copy or copied from another lane", reuse.evidence)
        self.component.count("seq_reused")
        if reuse.taken_back:
            self.component.count("confirmations_taken_back", len(reuse.taken_back))

    def report(self, confirmed: bool, reused_up_to: int, quiet_s: float) -> None:
        """Degraded for the most urgent reason; ok after a confirmation once no refusal came for `quiet_s`."""
        if self.too_large:
            first = next(iter(self.too_large.values()))
            more = len(self.too_large) - 1
            self.component.degraded(first + (f" ({more} more events too)" if more else ""))
        elif reused_up_to:
            self.component.degraded(
                f"the ingest holds seqs up to {reused_up_to} of this lane.db's stream that another copy "
                "of the file wrote (restored from an older copy, or copied from another lane). No event is lost: "
                "those rows are confirmed one by one. Once the outbox has drained, stop the agent and move "
                "lane.db aside (a new stream starts)")
        elif confirmed and self.clock.monotonic() - self._refused_at >= quiet_s:
            self.component.ok()
