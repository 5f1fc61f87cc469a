"""One-shot init steps of docker compose (minio.sh for mc, dremio.py for Dremio's REST API)."""
