# The lakehouse's Python processes (listener, loaders, Dagster) for docker compose.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY lakehouse lakehouse
COPY listener listener
COPY ingestion ingestion
COPY orchestration orchestration
COPY data data
RUN pip install --no-cache-dir -c constraints.txt .
