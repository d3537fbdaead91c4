"""The screen format's pixels: ``screen.frame`` rectangles decoded into a numpy RGB picture.

One decoder for every reader of the stream that is not the browser: the agent's reference viewer
(:mod:`agent.screen.decode`: tests and the benchmarks' client) and the technician's replay of
recordings (:mod:`workbench.replay_canvas`).  It needs numpy and Pillow, which both the ``agent``
and the ``technician`` extras install; the relay never imports it (it stores the bytes it forwards),
and the stdlib-only wire (:mod:`wire.frame_format`) keeps the layout it reads.  See
:mod:`screenfmt.rects`.
"""
