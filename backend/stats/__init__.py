"""Statistics on harmfulness verdicts: pure functions on arrays, no database, no torch."""
