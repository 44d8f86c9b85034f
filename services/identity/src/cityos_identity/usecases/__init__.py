"""Management use cases: each takes the verified caller and a request message, returns a message."""
