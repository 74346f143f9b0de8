# Production image: gunicorn via `cds-service serve` (workers = the container's CPU quota, app
# preloaded). Reproducible: every runtime dependency comes from requirements.lock, pinned with
# hashes (pip refuses anything else), and the package itself is installed without dependencies.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CDS_DATABASE_URL=sqlite:////app/var/cds-service.sqlite3

RUN useradd --create-home --uid 10001 cds
WORKDIR /app

COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md LICENSE ./
COPY cds_service ./cds_service
RUN pip install --no-deps . && mkdir -p /app/var && chown cds:cds /app/var

USER cds
EXPOSE 8080
# Liveness only (the process answers); readiness (/health/ready: store and knowledge base) is for
# the load balancer, so that a sick store takes a replica out of rotation without restarting it.
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/health/live', timeout=2).status != 200)"]
# Authentication is on by default: mount the directory holding the trusted-clients file (and any
# jwks_file it names), set CDS_CLIENTS, and set CDS_PUBLIC_BASE_URL to the URL(s) EHRs call (the
# JWT audience); without them it will not start. The SQLite store lives in /app/var; mount a
# volume there, or set CDS_DATABASE_URL to PostgreSQL and run `cds-service db upgrade` once.
CMD ["cds-service", "serve", "--host", "0.0.0.0", "--port", "8080"]
