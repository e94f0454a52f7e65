# The supportflow image: one image, every role chosen by the command
# (`worker`, `gateway --host 0.0.0.0 --port 8000`, `setup-namespace`, `audit schedule`).
# docker-compose.yml builds it; see docs/operations.md.
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SUPPORTFLOW_POLICY_DIR=/app/policies

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin supportflow

COPY README.md worker.py ./
COPY workflows ./workflows
COPY activities ./activities
COPY starter ./starter
RUN pip install --no-deps --no-compile .

# The shipped policies; production mounts its own over /app/policies, read-only.
COPY policies ./policies

USER supportflow
ENTRYPOINT ["supportflow"]
CMD ["worker"]
