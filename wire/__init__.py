"""The wire: what the customer's agent, the relay and the technician's workbench share.

Pure and dependency-free (the standard library only), so each role can be installed
alone and still speak the same language:

- :mod:`wire.protocol`  message types, encode/decode, size caps, type checks;
- :mod:`wire.errors`    the error tree with its stable wire codes;
- :mod:`wire.chain`     the hash chain every journal follows: record hashes, heads, verification;
- :mod:`wire.backoff`   the reconnection delays both sides use;
- :mod:`wire.facts`     the inventory fact schema (MISSION.md R4).

Nothing here imports :mod:`agent`, :mod:`relay` or :mod:`workbench`.
"""

__version__ = "0.1.0"
