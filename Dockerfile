# syntax=docker/dockerfile:1.7
# The GenPulse image used by cluster/kuberay-rayservice.yaml (and usable as a `ray up` docker image).
#   docker build -t ghcr.io/genpulse/genpulse:0.1.0 .                       # GPU-capable (torch, diffusers)
#   docker build --build-arg EXTRAS=s3 -t ghcr.io/genpulse/genpulse:0.1.0-cpu .
# RAY_VERSION must equal the pin in pyproject.toml (tests/test_dockerfile.py checks it).

ARG PYTHON_VERSION=3.11.10
ARG RAY_VERSION=2.60.0

FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ARG RAY_VERSION
ARG EXTRAS=gpu,s3
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/genpulse
ENV PATH=/opt/genpulse/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY genpulse ./genpulse
COPY deployments ./deployments
RUN pip install --upgrade "pip==24.3.1" "setuptools>=68" wheel \
    && pip install "ray[serve,default]==${RAY_VERSION}" ".[${EXTRAS}]" \
    && python -c "import ray, sys; sys.exit(ray.__version__ != '${RAY_VERSION}')"

FROM python:${PYTHON_VERSION}-slim-bookworm AS runtime
ARG RAY_VERSION
LABEL org.opencontainers.image.title="genpulse" \
      org.opencontainers.image.source="https://github.com/genpulse/genpulse" \
      io.ray.version="${RAY_VERSION}"
# bash and wget: KubeRay runs its probes and `ray start` through them; tini reaps Ray's child processes.
RUN apt-get update \
    && apt-get install -y --no-install-recommends bash wget tini ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 1000 ray \
    && useradd --uid 1000 --gid 1000 --create-home --shell /bin/bash ray
COPY --from=build /opt/genpulse /opt/genpulse
COPY --chown=ray:ray serve_config.yaml /home/ray/serve_config.yaml
ENV PATH=/opt/genpulse/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    RAY_USAGE_STATS_ENABLED=0 \
    RAY_SERVE_ENABLE_HA_PROXY=1 \
    HF_HUB_OFFLINE=1 \
    GENPULSE_STORAGE__PATH=/home/ray/data \
    GENPULSE_AUTH__MODE=keys
USER 1000:1000
WORKDIR /home/ray
EXPOSE 8000 8265 8080 6379
ENTRYPOINT ["/usr/bin/tini", "--"]
# 0.0.0.0 needs API keys: run with -e GENPULSE_AUTH__ADMIN_KEY=<secret> (docs/tenants.md)
CMD ["genpulse", "serve", "--host", "0.0.0.0"]
