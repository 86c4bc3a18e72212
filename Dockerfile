# syntax=docker/dockerfile:1
# Build wheels in one stage, run from a slim image as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/jianguan
COPY requirements.lock pyproject.toml README.md ./
# The locked versions, each checked against its hash; then the project alone.
RUN /opt/jianguan/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/jianguan/bin/pip install --no-cache-dir --require-hashes -r requirements.lock
COPY gateway ./gateway
COPY resolvers ./resolvers
COPY policies ./policies
COPY open_data ./open_data
COPY standard ./standard
COPY sources ./sources
COPY audit ./audit
COPY accounts ./accounts
COPY events ./events
COPY ingest ./ingest
COPY tasks ./tasks
COPY inspections ./inspections
COPY jobs ./jobs
COPY demo ./demo
RUN /opt/jianguan/bin/pip install --no-cache-dir --no-deps .

FROM python:3.11-slim
ENV PATH=/opt/jianguan/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    JIANGUAN_ENVIRONMENT=production \
    JIANGUAN_VAR_DIR=/var/lib/jianguan \
    PORT=8000
RUN groupadd --system jianguan \
 && useradd --system --gid jianguan --home-dir /var/lib/jianguan --create-home jianguan
COPY --from=build /opt/jianguan /opt/jianguan
# The partner client's operations: always on the persisted-operations allow-list.
COPY client/persisted /opt/jianguan/client-operations
ENV JIANGUAN_PERSISTED_QUERIES=/opt/jianguan/client-operations
USER jianguan
WORKDIR /var/lib/jianguan
EXPOSE 8000
# Both read PORT (`docker run -e PORT=9000`): serve's --port defaults to it.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import os,sys,urllib.request; sys.exit(urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz\", timeout=2).status != 200)"]
CMD ["jianguan", "serve", "--host", "0.0.0.0"]
