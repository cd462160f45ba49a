"""The fake cloud and its network: mosquitto, a scripted MQTT 5 server, a fault proxy, the catalog server, the
reference ingest, the token issuer, the payment service and test certificates.

They may import the agent's wire formats and protocols (agent.sync, agent.interpret, agent.payment) and the
doubles; never the lanes, the trials or the demo, which start them.
"""
