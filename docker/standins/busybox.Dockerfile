# Stand-in for the alpine runtime stage of docker/versitygw: a static binary needs no libc of
# Alpine's, so the contract is only a POSIX shell and busybox's wget (the health check), here
# Debian's busybox on the debootstrap base.
ARG BASE
FROM ${BASE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends busybox \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s /bin/busybox /usr/local/bin/wget
LABEL org.opencontainers.image.title="lakehouse-standin/alpine" \
      org.opencontainers.image.description="stand-in for alpine (Debian's busybox: sh, wget)"
