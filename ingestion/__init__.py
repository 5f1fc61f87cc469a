"""Bronze ingestion: dataset specs, parsers, the Iceberg writer, the ledger, quarantine."""
