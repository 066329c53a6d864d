# Tifa: the API on the embedded engine (or Elasticsearch with TIFA_BACKEND=elasticsearch).
# Stage 1 builds the native phrase matcher (Rust); stage 2 wheels for the dependencies;
# stage 3 installs them and the code, non-root.
FROM rust:1-slim-bookworm AS native
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /maturin && /maturin/bin/pip install --no-cache-dir "maturin>=1.7,<2"
COPY native /src/native
RUN /maturin/bin/maturin build --release --manifest-path /src/native/Cargo.toml --out /wheels

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app app
COPY indexer indexer
COPY bench bench
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 tifa
WORKDIR /srv/tifa
COPY --from=build /wheels /wheels
COPY --from=native /wheels/*.whl /wheels/
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY corpus corpus
RUN mkdir var && chown tifa:tifa var
USER tifa
# TIFA_NATIVE=on: the image always carries the native matcher; refuse to start without it.
ENV TIFA_DATA_DIR=/srv/tifa/var TIFA_HOST=0.0.0.0 TIFA_PORT=8000 TIFA_NATIVE=on
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz').status != 200)"
# The same steps as `./run serve`: ingest the bundled corpus if it changed, then serve.
CMD ["sh", "-c", "tifa ingest corpus/statements --if-changed --quiet && exec tifa serve --host \"$TIFA_HOST\" --port \"$TIFA_PORT\""]
