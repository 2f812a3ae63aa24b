# syntax=docker/dockerfile:1
# One project image: Python 3.11 + JRE 17 (Spark) + the pinned project.
#   target `app` (the default, last stage): web, worker and the MLflow server in docker-compose.yml
#   target `jupyter`: the same plus JupyterLab, for the optional notebook service
# Build: docker build -t titanic-ops:0.1.0 .   (docker compose build does the same)

# bookworm, not trixie: trixie no longer ships OpenJDK 17.
FROM python:3.11.14-slim-bookworm AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TITANIC_VAR_DIR=/app/var

# git: MLflow runs are tagged with the commit; procps: pgrep for the worker healthcheck and ps
# for Spark's launch scripts. The man1 folder works around the JRE's postinst on slim images.
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps git \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --create-home --shell /usr/sbin/nologin titanic

WORKDIR /app

# Dependencies first, from pyproject.toml pinned by requirements.lock, so that a code change
# does not rebuild pyspark (an sdist) and the rest.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install -c requirements.lock -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY . .
RUN pip install --no-deps -c requirements.lock -e . \
 && mkdir -p /app/var \
 && DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v0 \
 && chown -R titanic:titanic /app/var

USER titanic


FROM base AS jupyter
USER root
RUN pip install -c requirements.lock jupyterlab==4.6.6
USER titanic
EXPOSE 8880
CMD ["jupyter", "lab", "--ip=0.0.0.0", "--port=8880", "--no-browser"]


# Health is per role (web, worker, MLflow server), so the healthchecks live in docker-compose.yml.
FROM base AS app
EXPOSE 9090
CMD ["gunicorn", "titanic_ops.wsgi:application", "--bind", "0.0.0.0:9090", "--access-logfile", "-"]
