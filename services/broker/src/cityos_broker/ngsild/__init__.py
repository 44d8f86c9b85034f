"""NGSI-LD data model: @context handling, entity parsing, rendering and pure entity edits."""
