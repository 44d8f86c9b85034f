"""Shared runtime for City OS services: config, logs, telemetry, gRPC bootstrap, SSRF guard, problems.

Import the submodules you need (e.g. `from cityos_runtime.config import env_int`); this package module
imports nothing so that importing one piece stays cheap.
"""
