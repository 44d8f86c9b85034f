"""NGSI-LD temporal API: history recorder, history store, temporal queries and aggregation, S3 archive."""
