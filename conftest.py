"""Root pytest configuration: shared fixtures for real dependencies (see cityos_devtools.pytest_plugin)."""

pytest_plugins = ["cityos_devtools.pytest_plugin"]
