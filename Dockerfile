# The supportflow image: one image, every role chosen by the command
# (`worker`, `gateway --host 0.0.0.0 --port 8000`, `setup-namespace`, `audit schedule`, `archive migrate`,
# `mailbox`). docker-compose.yml builds it; see docs/operations.md.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SUPPORTFLOW_POLICY_DIR=/app/policies

WORKDIR /app

# tini is PID 1: it forwards SIGTERM to supportflow (a worker then finishes its deliveries, see
# SUPPORTFLOW_GRACEFUL_SHUTDOWN_SECONDS) and reaps any child process, in compose and Kubernetes alike.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin supportflow

# Dependencies first, from the lock alone, so a code change does not reinstall them. Every package is pinned
# and hash-checked (scripts/lock makes the file from pyproject.toml); the dev server (the `dev-server` extra)
# is not among them: production runs against a Temporal cluster.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock && pip check

COPY pyproject.toml README.md worker.py idle_collector.py environment.py tenant_policies.py signed_links.py ./
COPY workflows ./workflows
COPY activities ./activities
COPY starter ./starter
COPY archive ./archive
# Our own code, built with the pinned setuptools above and nothing fetched.
RUN pip install --no-deps --no-build-isolation --no-index --no-compile . && pip check

# The shipped policies; production mounts its own over /app/policies, read-only.
COPY policies ./policies

USER supportflow
ENTRYPOINT ["tini", "--", "supportflow"]
CMD ["worker"]
