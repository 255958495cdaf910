"""Judges: test coverage and diagnosis equivalence behind one protocol (offline and LLM)."""
