"""The runner: the stages scheduled (``runner``: ``Runner``, ``RunInputs``), each a step from
plain inputs to a typed result (``steps``), the gates on those results (``gates``), the output
and report kept in flow order while stages overlap (``order``), each stage's record
(``records``), and what a task asks of a run (``options``: ``RunOptions``, ``STAGES``)."""
