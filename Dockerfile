# One image for web and worker: Python 3.11 + JRE 17 (Spark) + the pinned project.
FROM python:3.11.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps git \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml requirements.lock ./
COPY apps ./apps
COPY titanic_ops ./titanic_ops
RUN pip install --no-cache-dir -c requirements.lock -e .
COPY . .
RUN DJANGO_SECRET_KEY=build-only python manage.py collectstatic --noinput -v0
EXPOSE 9090
CMD ["gunicorn", "titanic_ops.wsgi:application", "--bind", "0.0.0.0:9090"]
