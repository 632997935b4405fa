"""Protection of the upstream: one shared request budget, a circuit breaker, bounded retries, single-flight."""
