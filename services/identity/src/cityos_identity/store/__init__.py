"""Redis persistence of the identity service (key layout in store/keys.py)."""
