"""The relay: the support organisation's server between customers' agents and technicians.

It pairs an agent with a technician by a one-time code, forwards their messages, and
keeps each session's records.  It faces the internet, so it trusts nothing either side
sends.  Installed alone with ``pip install .[relay]`` (websockets only: nothing of the
customer's GUI or of Jupyter) and run as ``workbench-relay`` or ``workbench relay``.

- :mod:`relay.machine`  the rules, as a state machine without I/O: events in, actions out;
- :mod:`relay.events`   the events it takes and the actions it returns;
- :mod:`relay.session`  one session's state in the machine;
- :mod:`relay.server`   the I/O layer: websockets in, the machine's actions carried out;
- :mod:`relay.pairing`  one-time codes and the technicians list;
- :mod:`relay.records`  each session's records on disk;
- :mod:`relay.cli`      the command line.

It imports :mod:`wire` only, never :mod:`agent` or :mod:`workbench`.
"""

__version__ = "0.1.0"
