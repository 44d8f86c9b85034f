"""cityos_devtools."""
