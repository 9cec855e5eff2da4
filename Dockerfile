# The API: gunicorn serving app:app on $PORT (5000), as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=5000

# LightGBM (the ranker) needs the OpenMP runtime, which the slim image lacks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# The model of the shipped data is built into the image, so a container starts by loading it.
RUN python -m recommender.build \
    && useradd --create-home --uid 10001 app \
    && mkdir -p /app/instance \
    && chown -R app:app /app/instance /app/artifacts
USER app

EXPOSE 5000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '5000'), timeout=3)"

# gunicorn.conf.py (read from /app) binds 0.0.0.0:$PORT, runs 2 workers and preloads the models.
CMD ["gunicorn", "app:app"]
