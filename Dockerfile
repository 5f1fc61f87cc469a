# The lakehouse's own processes for docker compose: the listener, Dagster (webserver
# and daemon, with the dbt project in transformation/), the PySpark bulk loaders and
# the Dremio init (deploy/init/dremio.py). Third-party servers use their own images.
FROM python:3.11-slim-bookworm

# Java for PySpark (the bulk loaders); nothing else from apt.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DO_NOT_TRACK=1
WORKDIR /app

# Dependencies first (exact pins from constraints.txt), so a code change does not
# reinstall them.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -c constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The code. An editable install keeps the checkout layout the code relies on
# (orchestration finds the dbt project at ../transformation, deploy/ runs with -m).
COPY README.md ./
COPY lakehouse lakehouse
COPY listener listener
COPY ingestion ingestion
COPY warehouse warehouse
COPY orchestration orchestration
COPY transformation transformation
COPY data data
COPY deploy deploy
RUN pip install --no-cache-dir --no-deps -e .

# An unprivileged user. The folders below are where the named volumes mount, so a
# new volume starts out owned by this user; dbt writes its manifest in transformation/.
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin lakehouse \
    && mkdir -p /opt/dagster/home /var/lib/dagster /var/lib/lakehouse \
    && cp deploy/dagster/dagster.yaml /opt/dagster/home/dagster.yaml \
    && chown -R lakehouse /var/lib/dagster /var/lib/lakehouse /app/transformation
USER lakehouse
ENV DAGSTER_HOME=/opt/dagster/home LAKEHOUSE_MODE=docker LAKEHOUSE_STATE_DIR=/var/lib/lakehouse

CMD ["lakehouse", "--help"]
