#!/bin/sh
# minio-init (one-shot, docker-compose.yml; quay.io/minio/mc image): create the zone buckets of the
# profile and, on MinIO, the pipeline's own access key with the readwrite policy, so the root
# account stays for the console. Idempotent. Against versitygw (docker/compose.versitygw.yml)
# the root account is the pipeline's key and there is no MinIO admin API: only the buckets.
set -eu

: "${S3_ENDPOINT:?}" "${S3_ROOT_USER:?}" "${S3_ROOT_PASSWORD:?}"
: "${LAKEHOUSE_S3_ACCESS_KEY:?}" "${LAKEHOUSE_S3_SECRET_KEY:?}" "${LAKEHOUSE_BUCKETS:?}"

mc alias set lake "$S3_ENDPOINT" "$S3_ROOT_USER" "$S3_ROOT_PASSWORD" >/dev/null

for bucket in $LAKEHOUSE_BUCKETS; do
  mc mb --ignore-existing "lake/$bucket"
done

if [ "$LAKEHOUSE_S3_ACCESS_KEY" != "$S3_ROOT_USER" ] && mc admin info lake >/dev/null 2>&1; then
  mc admin user add lake "$LAKEHOUSE_S3_ACCESS_KEY" "$LAKEHOUSE_S3_SECRET_KEY"
  # On a rerun the policy is attached already, which mc reports as an error (matched with a
  # plain sh `case`: the script needs nothing from the image but sh and mc).
  if ! out=$(mc admin policy attach lake readwrite --user "$LAKEHOUSE_S3_ACCESS_KEY" 2>&1); then
    case $out in
      *already*) ;;
      *) echo "$out" >&2; exit 1 ;;
    esac
  fi
fi
echo "buckets ready: $LAKEHOUSE_BUCKETS"
