"""Load tests and benchmarks of the City OS: `python -m loadtests.bench` and the locust scenarios."""
