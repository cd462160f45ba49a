"""Test doubles and probes: what a test puts beside the real agent in place of time, a broker or a person.

FakeClock (`clock`: time that moves only when the test says so), FakePublisher (`fake_publisher`: an in-memory
MQTT publisher for the relay), ChosenAdapter (`chosen_adapter`: the payment adapter a test may change part-way),
free loopback ports (`ports`), one JSON request to the local API (`local_http`) and a WebSocket witness of the
shopper's screen (`screen_watch`). Each is small and starts nothing by itself. They may import the agent's
protocols and plumbing (agent.clock, agent.sync.publisher_link, agent.payment.adapter, agent.errors) and the
standard library; never another group of simulators/, so any test or lane can use them.
"""
