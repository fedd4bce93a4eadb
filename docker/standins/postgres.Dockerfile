# Stand-in for postgres:<version>-bookworm: Debian's PostgreSQL 15 on the debootstrap base
# (bookworm has no newer server). Contract kept for docker-compose.yml: POSTGRES_USER,
# POSTGRES_PASSWORD and POSTGRES_DB on first start, the SQL and shell scripts of
# /docker-entrypoint-initdb.d run once against POSTGRES_DB, data in /var/lib/postgresql/data,
# password (scram) logins over TCP, pg_isready and psql on the PATH, port 5432.
ARG BASE
FROM ${BASE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 gosu \
    && rm -rf /var/lib/apt/lists/* /var/lib/postgresql/15/main \
    && mkdir -p /docker-entrypoint-initdb.d /var/lib/postgresql/data /var/run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh
LABEL org.opencontainers.image.title="lakehouse-standin/postgres" \
      org.opencontainers.image.description="stand-in for postgres:*-bookworm (Debian's PostgreSQL 15)"
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
