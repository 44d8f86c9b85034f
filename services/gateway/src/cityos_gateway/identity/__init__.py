"""Routes served by the identity service: the OAuth/OIDC endpoints and the management API."""
