"""The broker's use cases, grouped by resource; `cityos_broker.broker.Broker` exposes one method per RPC."""
