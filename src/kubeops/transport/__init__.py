"""HTTP transport: connection pools, auth, rate limits, retries, circuit breaking, typed errors."""
