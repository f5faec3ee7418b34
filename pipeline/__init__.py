"""hoist: a container delivery pipeline (lint -> build -> smoke -> push -> deploy).

Each module owns one stage or concern; stages take plain values and return result objects.
`tasks.py` wires them. Heavy dependencies are imported inside the functions that need them so
that `invoke --list` stays fast.
"""
