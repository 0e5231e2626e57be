"""Property-based fuzzing of every parser of user input (see harness.py)."""
