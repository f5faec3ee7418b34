"""Registry kinds: one module per kind, each declaring its naming and credential rules as a
``RegistryKind`` (``base.py``) named ``KIND``; ``KINDS`` in ``kinds.py`` lists them, and the
``registries:`` parser accepts exactly those names, so the two cannot drift apart.

Heavy SDKs (boto3, google-auth, azure-identity) are imported inside the kind that needs them,
only when a target of that kind is used. Shared pieces live in ``base`` (naming, errors, the
declaration), ``credstore`` (the user's docker credential store), ``retry`` (what is retried,
how patiently) and ``credential_check`` (each registry asked, beside lint and build, whether it
takes the credentials the push will use).
"""
