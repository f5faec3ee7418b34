"""hoist: a container delivery pipeline (lint -> build -> smoke -> push -> deploy).

Each module owns one stage or concern; stages take plain values and return result objects.
`pipeline/tasks.py` wires them into tasks (``invoke`` in a checkout, the ``hoist`` command when
installed); its imports sit inside the task functions so that ``--list`` stays fast.
"""
