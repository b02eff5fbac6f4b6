# ballastd container image.
#
#   docker build -t ballast:0.1.0 .
#   docker run --rm -p 8080:8080 ballast:0.1.0
#
# Stage 1 builds on Debian bookworm and runs the whole test suite (`make test`), so an image
# is only produced from a tree whose tests pass. Stage 2 is bookworm-slim with the two runtime
# libraries, the binary and a non-root user. Options are BALLAST_* variables (see README.md):
# `docker run -e BALLAST_THREADS=4 ...`, or flags after the image name.
#
# `make docker-check` replays this file without Docker (debootstrap + chroot), parsing it, so
# keep to the instructions it understands: FROM, ARG, ENV, WORKDIR, RUN, COPY, USER, EXPOSE,
# STOPSIGNAL, HEALTHCHECK, ENTRYPOINT, CMD, LABEL.

FROM debian:bookworm AS build
# The build and test dependencies (tools/install-deps.sh --test), clang-format (make
# format-check) and nginx for the deployment suites of `make test` (mk/deploy.mk), so
# that `make test` installs nothing.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential libmicrohttpd-dev libjansson-dev check pkg-config python3 curl \
      python3-numpy python3-requests python3-yaml python3-jsonschema nodejs nginx-light \
      python3-torch python3-pip python3-venv golang-go python3-imblearn clang-format \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make test && make

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libmicrohttpd12 libjansson4 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 ballast \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin ballast
COPY --from=build /src/build/ballastd /usr/local/bin/ballastd
# The CLI, for one-off computations inside the container (`docker run --entrypoint ballast`).
COPY --from=build /src/build/ballast /usr/local/bin/ballast
# OCI annotations; the version is BL_VERSION of lib/ballast.h (tests/http/test_deploy.py).
LABEL org.opencontainers.image.title="ballast" \
      org.opencontainers.image.description="Class weights, weighted sampling and PyTorch-exact losses over HTTP/JSON" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.documentation="README.md and api/openapi.yaml (GET /openapi.yaml)"
# Numeric, so that Kubernetes' runAsNonRoot can verify it (docker/k8s/deployment.yaml).
USER 10001:10001
ENV BALLAST_BIND=0.0.0.0
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/ballastd", "--healthcheck"]
ENTRYPOINT ["/usr/local/bin/ballastd"]
