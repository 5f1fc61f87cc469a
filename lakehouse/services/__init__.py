"""Run the real stack natively (no Docker): MinIO, Apache Kafka (KRaft), Nessie."""
