"""Listener: event sources (Kafka, watchdog), routing, batching, offsets, dead letters."""
