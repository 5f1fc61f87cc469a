"""Deployment helpers: docker compose init steps (run inside the project image)."""
