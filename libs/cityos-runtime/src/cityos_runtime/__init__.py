"""cityos_runtime."""
