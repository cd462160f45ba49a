"""The fake cloud and its network: mosquitto, a scripted MQTT 5 server, a fault proxy, the catalog server, the
reference ingest, the token issuer and test certificates."""
