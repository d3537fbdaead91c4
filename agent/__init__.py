"""The customer's side of the remote-support workbench.

The agent runs on the customer's computer, dials out to the relay, and
enforces the customer's promises (consent, transparency, forbidden folders,
hidden screen regions, input priority) whatever the technician's side sends.
It never imports :mod:`workbench` or Jupyter.
"""

__version__ = "0.1.0"
