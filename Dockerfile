# Community Notebook: the bot as a container (docs/deployment.md).
#
#   docker build -t community-notebook .
#   docker compose --env-file .env -f deploy/compose.yaml up -d      # the bot, PostgreSQL and the nightly backup
#
# Runtime only: no tests, linters or browsers; the install steps are the ones
# docs/deployment.md gives for a server without containers (tests/test_deploy.py checks they
# agree). The Chinese font comes with the Python dependencies (runtime/fonts.py); the gettext
# catalogs are compiled into the package as it installs, so the bot speaks Chinese from its
# first message.

# --- build: the virtual environment, compiled catalogs ------------------------------------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/community-notebook
COPY pyproject.toml setup.py MANIFEST.in README.md babel.cfg ./
COPY requirements/ requirements/
COPY bot/ bot/
COPY runtime/ runtime/
COPY delivery/ delivery/
COPY handlers/ handlers/
COPY storage/ storage/
COPY emulator/ emulator/
COPY sandbox/ sandbox/
COPY locales/ locales/
# install: begin
RUN python3 -m venv .venv
RUN .venv/bin/pip install --require-hashes -r requirements/run.txt
RUN .venv/bin/pip install --no-deps .
# install: end

# --- run: the same files on a clean image, as an unprivileged user ------------------------------
FROM python:3.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /opt/community-notebook --shell /usr/sbin/nologin notebook
ENV LANG=C.UTF-8 \
    LC_ALL=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/community-notebook/.venv/bin:$PATH \
    LOG_FORMAT=json \
    HEALTH_LISTEN=0.0.0.0 \
    HEALTH_PORT=8081
WORKDIR /opt/community-notebook
COPY --from=build /opt/community-notebook /opt/community-notebook
RUN install -d -o notebook -g notebook -m 0700 /opt/community-notebook/data
USER notebook
# The bot's HTTP server (/healthz, /metrics, calendars, Open311): with a webhook it is the
# webhook's, on WEBHOOK_PORT (8443); when polling, on HEALTH_PORT (8081).
EXPOSE 8443 8081
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('WEBHOOK_PORT', '8443') if os.environ.get('WEBHOOK_URL') else os.environ['HEALTH_PORT']; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]
VOLUME ["/opt/community-notebook/data"]
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "run"]
