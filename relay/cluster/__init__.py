"""Relays that share pairing, routing and records over NATS (``workbench relay --nats URL``).

:mod:`relay.cluster.bus` joins NATS and its JetStream buckets; :mod:`relay.cluster.codes` keeps
codes unique across relays; :mod:`relay.cluster.relay` routes each connection to the relay holding
its session and takes a session over when that relay dies.  See docs/cluster.md.
"""
