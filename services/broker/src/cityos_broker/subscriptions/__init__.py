"""NGSI-LD subscriptions and the notifier (see the broker README, "Subscriptions and notifications").

`model` (validation, stored form), `store` (Redis CRUD and status), `render` (documents), `matcher`,
`notification` (ids, bodies, the read-policy hook), `queue` (streams, groups, leases), `cache`, `senders`
(HTTP, MQTT), `settings` and `worker` (the per-replica notifier).
"""
