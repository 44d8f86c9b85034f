"""Locust scenarios of the City OS's real workloads; `loadtests/locustfile.py` puts them together."""
