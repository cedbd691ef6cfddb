"""Use cases: each CLI command calls one function here."""
