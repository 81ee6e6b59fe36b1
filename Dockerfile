# syntax=docker/dockerfile:1
# surveyd container image: build on debian:bookworm, run on debian:bookworm-slim as uid 10001.
#
#   docker build -t surveyd .
#   docker run -d --name surveyd -p 8080:8080 -v surveyd-data:/data \
#     -e SURVEYD_ADMIN_TOKENS="$(openssl rand -hex 32)" surveyd
#
# Without SURVEYD_ADMIN_TOKENS an admin token is generated into /data/admin-token on first start:
#   docker exec surveyd cat /data/admin-token
# Consistent backup of the live database:  docker exec surveyd surveyd backup /data/backup.db
# On PostgreSQL instead of /data: -e SURVEYD_DATABASE='postgresql://...' (docs/postgresql.md).
# tests/deploy/container.sh builds this file with podman (no Docker engine) and runs the image.

############################################################################ build stage
FROM debian:bookworm AS build

ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential meson ninja-build pkg-config python3 \
      libmicrohttpd-dev libcjson-dev libsqlite3-dev libpq-dev libssl-dev zlib1g-dev libcurl4-openssl-dev libstemmer-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .
# -Dtests=false: the image needs the daemon only (the tests, and Check, stay in CI). Warnings are
# errors here too (meson.build's default).
RUN meson setup build --buildtype=release -Db_ndebug=true -Dtests=false \
 && ninja -C build server/surveyd \
 && strip build/server/surveyd \
 && build/server/surveyd --version

############################################################################ runtime stage
FROM debian:bookworm-slim

ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends libmicrohttpd12 libcjson1 libsqlite3-0 libpq5 libssl3 zlib1g libcurl4 libstemmer0d \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb

RUN groupadd --gid 10001 surveyd \
 && useradd --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin surveyd \
 && install -d -o 10001 -g 10001 -m 0700 /data

COPY --from=build /src/build/server/surveyd /usr/local/bin/surveyd

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
ENV SURVEYD_LISTEN=0.0.0.0:8080 SURVEYD_DATA_DIR=/data
# surveyd healthcheck GETs /readyz on SURVEYD_LISTEN (0.0.0.0 probed as 127.0.0.1); no curl needed.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["surveyd", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["surveyd"]
CMD ["serve"]
