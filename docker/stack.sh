#!/usr/bin/env bash
# `make up` on the Docker Compose stack, after `docker compose up -d`:
#
#   docker/stack.sh wait   until every container is healthy and every one-shot init job has
#                          exited 0; fails at once on a failed job, or after
#                          LAKEHOUSE_COMPOSE_TIMEOUT seconds (default 900)
#   docker/stack.sh info   the URLs and logins of the running stack
#
# COMPOSE is the compose command (default `docker compose`, with -f options for an override);
# S3_SERVER=versitygw labels the S3 server. Settings are read as Compose reads them: the
# environment, then .env, then the defaults (which equal .env.example).
set -euo pipefail
cd "$(dirname "$0")/.."

COMPOSE=${COMPOSE:-docker compose}
TIMEOUT=${LAKEHOUSE_COMPOSE_TIMEOUT:-900}
POLL=${LAKEHOUSE_COMPOSE_POLL:-5}

setting() {  # setting NAME: the value Compose interpolates for ${NAME:-default}
  local name=$1 line file
  if [[ -n ${!name:-} ]]; then
    printf '%s\n' "${!name}"
    return
  fi
  for file in .env .env.example; do
    [[ -f $file ]] || continue
    line=$(grep -E "^${name}=" "$file" | tail -n 1 || true)
    if [[ -n $line ]]; then
      printf '%s\n' "${line#*=}"
      return
    fi
  done
  echo "docker/stack.sh: $name is not set (see .env.example)" >&2
  return 1
}

wait_for_stack() {
  local deadline=$((SECONDS + TIMEOUT)) service state health code listing
  local -a pending failed
  while true; do
    pending=()
    failed=()
    listing=$($COMPOSE ps --all --format '{{.Service}}|{{.State}}|{{.Health}}|{{.ExitCode}}')
    if [[ -z $listing ]]; then
      echo "no containers: run \`$COMPOSE up -d\` first" >&2
      return 1
    fi
    while IFS='|' read -r service state health code; do
      [[ -n $service ]] || continue
      case $state in
        exited)
          [[ $code == 0 ]] || failed+=("$service (exit $code)")
          ;;
        running)
          [[ -z $health || $health == healthy ]] || pending+=("$service ($health)")
          ;;
        *)
          pending+=("$service ($state)")
          ;;
      esac
    done <<<"$listing"
    if ((${#failed[@]})); then
      echo "failed: ${failed[*]}" >&2
      echo "see: $COMPOSE logs ${failed[0]%% *}" >&2
      return 1
    fi
    if ((${#pending[@]} == 0)); then
      echo "all services healthy"
      return 0
    fi
    if ((SECONDS >= deadline)); then
      echo "not healthy after ${TIMEOUT}s: ${pending[*]}" >&2
      echo "see: $COMPOSE logs ${pending[0]%% *}" >&2
      return 1
    fi
    echo "waiting for: ${pending[*]}"
    sleep "$POLL"
  done
}

print_info() {
  local s3_user s3_password console
  if [[ ${S3_SERVER:-minio} == versitygw ]]; then
    console="versitygw WebUI"
    s3_user=$(setting LAKEHOUSE_S3_ACCESS_KEY)
    s3_password=$(setting LAKEHOUSE_S3_SECRET_KEY)
  else
    console="MinIO console"
    s3_user=$(setting LAKEHOUSE_MINIO_ROOT_USER)
    s3_password=$(setting LAKEHOUSE_MINIO_ROOT_PASSWORD)
  fi
  cat <<EOF

Lakehouse stack (Docker Compose) is up:
  Airflow UI       http://127.0.0.1:$(setting LAKEHOUSE_AIRFLOW_PORT)   login $(setting LAKEHOUSE_AIRFLOW_ADMIN_USER) / $(setting LAKEHOUSE_AIRFLOW_ADMIN_PASSWORD)
  $(printf '%-16s' "$console") http://127.0.0.1:$(setting LAKEHOUSE_S3_CONSOLE_PORT)   login $s3_user / $s3_password
  Spark master UI  http://127.0.0.1:$(setting LAKEHOUSE_SPARK_MASTER_UI_PORT)   (spark://127.0.0.1:$(setting LAKEHOUSE_SPARK_MASTER_PORT))
  S3 API           http://127.0.0.1:$(setting LAKEHOUSE_S3_PORT)   key $(setting LAKEHOUSE_S3_ACCESS_KEY) / $(setting LAKEHOUSE_S3_SECRET_KEY)
  PostgreSQL       127.0.0.1:$(setting LAKEHOUSE_PG_PORT)   databases warehouse, operational   login $(setting LAKEHOUSE_PG_USER) / $(setting LAKEHOUSE_PG_PASSWORD)   (make psql)
Next: make drop-sample, then trigger lakehouse_pipeline in the Airflow UI. Stop: make down.
EOF
}

case ${1:-} in
  wait) wait_for_stack ;;
  info) print_info ;;
  *)
    echo "usage: docker/stack.sh wait|info" >&2
    exit 2
    ;;
esac
