"""cityos_broker."""
