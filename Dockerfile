# syntax=docker/dockerfile:1
# Build wheels in one stage, run from a slim image as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/jianguan
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY resolvers ./resolvers
COPY policies ./policies
COPY open_data ./open_data
COPY standard ./standard
COPY ingest ./ingest
COPY demo ./demo
RUN /opt/jianguan/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/jianguan/bin/pip install --no-cache-dir .

FROM python:3.11-slim
ENV PATH=/opt/jianguan/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    JIANGUAN_ENVIRONMENT=production \
    JIANGUAN_VAR_DIR=/var/lib/jianguan
RUN groupadd --system jianguan \
 && useradd --system --gid jianguan --home-dir /var/lib/jianguan --create-home jianguan
COPY --from=build /opt/jianguan /opt/jianguan
# The partner client's operations: always on the persisted-operations allow-list.
COPY client/persisted /opt/jianguan/client-operations
ENV JIANGUAN_PERSISTED_QUERIES=/opt/jianguan/client-operations
USER jianguan
WORKDIR /var/lib/jianguan
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
CMD ["jianguan", "serve", "--host", "0.0.0.0", "--port", "8000"]
