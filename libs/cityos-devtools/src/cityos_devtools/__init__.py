"""Local stack runner, embedded Valkey and S3 servers, and test fixtures for the City OS."""
