"""One module per schema revision, oldest first: ``r0001_audit`` is the first
release's audit table."""
