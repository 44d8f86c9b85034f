"""OIDC enforcement: token verification, revocations, API keys, policies, rate limits."""
