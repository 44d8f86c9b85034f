"""The `make bench` figures of ARCHITECTURE.md section 6, measured against a locally started stack."""
