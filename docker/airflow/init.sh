#!/usr/bin/env bash
# airflow-init (one-shot, docker-compose.yml): migrate the metadata DB, give the simple auth
# manager's admin user the password from .env, then bootstrap the warehouse (analytics schema,
# loader and analyst roles, grants; idempotent) as the database owner. The long-running Airflow services start only after
# this exits 0 (depends_on: service_completed_successfully).
set -euo pipefail

airflow db migrate
lakehouse-set-admin-password
# Fail here, with the file and key named, rather than in every DAG parse.
python -c "from lakehouse.config import load_profile; print('profile', load_profile().name, 'ok')"
lakehouse warehouse bootstrap
