"""Access control and abuse limits: API keys with scopes, per-client rate limits, request hygiene."""
