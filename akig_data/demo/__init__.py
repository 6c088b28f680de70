"""Synthetic but believable data for demos, tests and benchmarks (`akig demo seed`)."""
