"""Reading pipeline.yaml: the file itself, a field reader that names the field in every error,
and the naming rules images and tags share. This floor imports no stage: each stage package
parses its own section (``<stage>/settings.py``) with these tools, and ``pipeline.project``
puts the sections together."""
