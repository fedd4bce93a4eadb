# Stand-in for python:3.11-slim-bookworm: Debian's own Python 3.11 on the debootstrap base.
# Contract kept for docker/airflow and docker/spark: python3, python, pip and pip3 on the PATH
# (also at /usr/local/bin/python3, where the official image has them and PYSPARK_PYTHON points),
# pip installing into the system site as root, venv, CA certificates, apt-get usable.
ARG BASE
FROM ${BASE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-pip python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED \
    && ln -s /usr/bin/python3 /usr/local/bin/python3 \
    && ln -s /usr/bin/python3 /usr/local/bin/python \
    && ln -s /usr/bin/pip3 /usr/local/bin/pip \
    && python --version && pip --version
LABEL org.opencontainers.image.title="lakehouse-standin/python" \
      org.opencontainers.image.description="stand-in for python:3.11-slim-bookworm (Debian's python3.11)"
CMD ["python3"]
