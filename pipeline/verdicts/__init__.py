"""Kept verdicts: a stage that passed is not run again on the very same inputs.

The physics of a warm run is "nothing to do": the same Dockerfile, sources, linters and
configs lint the same; the same image (its id is its content) with the same smoke section
and the same hoist passes the same checks. So each passing verdict is kept in the state dir
(``store``), keyed by a digest of everything the stage depends on (``keys``: lint by the
linted files, the linters and their configs, the lint section; smoke by the image id, the
smoke section and its host inputs; both by hoist's own code), with what the stage found
(``records``: the findings, the check results), so a reused verdict shows, annotates and
reports the same. The build reuses an unchanged image by its content
(``build.labels.unchanged``) and push skips what every registry already serves: neither
needs a kept verdict. Only passes are kept; ``--no-cache`` (or ``HOIST_NO_CACHE=1``) runs
every stage again.
"""
