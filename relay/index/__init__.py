"""The relay's session index (R6): schema, rows from the session files, the writer off the event loop.

- :mod:`relay.index.schema`: tables, columns and their personal marks, migrations;
- :mod:`relay.index.summary`: one session's row from its files;
- :mod:`relay.index.store`: :class:`~relay.index.store.SessionIndex`, reads and writes;
- :mod:`relay.index.writer`: :class:`~relay.index.writer.IndexWriter`, the thread the relay hands sessions to.
"""
