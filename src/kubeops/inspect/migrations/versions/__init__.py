"""One module per schema revision, oldest first: ``r0001_schema`` is the first
release's tables, ``r0002_run_key`` the key that makes recording idempotent."""
