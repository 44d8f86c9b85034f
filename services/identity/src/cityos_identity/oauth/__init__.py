"""The OAuth 2.0 / OIDC endpoints, served over gRPC (`HandleOAuthRequest`) for the gateway to expose."""
