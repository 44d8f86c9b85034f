"""City OS identity service: OAuth 2.0 / OIDC provider, tenants, principals and access policies."""
