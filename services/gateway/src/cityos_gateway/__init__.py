"""cityos_gateway."""
