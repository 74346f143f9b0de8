# Production image: gunicorn (sync workers = cores, app preloaded) via `cds-service serve`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 cds
WORKDIR /app

COPY pyproject.toml README.md ./
COPY cds_service ./cds_service
RUN pip install . && mkdir -p /app/var && chown cds:cds /app/var

USER cds
EXPOSE 8080
# Authentication is on by default: mount a trusted-clients file and set CDS_CLIENTS, and set
# CDS_PUBLIC_BASE_URL to the URL(s) EHRs call (the JWT audience); without them it will not start.
# The SQLite store lives in /app/var; mount a volume there, or set CDS_DATABASE_URL to PostgreSQL.
CMD ["cds-service", "serve", "--host", "0.0.0.0", "--port", "8080"]
