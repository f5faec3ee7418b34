"""hoist's benchmark against the hand-written docker CLI script it replaces (bench/README.md)."""
