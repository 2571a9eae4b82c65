"""The drift monitor: one process per fleet that scores windows of the prediction log against
each served version's reference profile (docs/drift.md, "The monitor")."""
