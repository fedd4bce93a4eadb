#!/usr/bin/env bash
# Fetch Spark jars with Maven into one folder, the way `lakehouse jars` does natively
# (lakehouse/config/versions.py): `mvn dependency:copy` per coordinate, without transitive
# dependencies (pyspark bundles the rest). Used by the image builds in docker/airflow and
# docker/spark, whose build ARGs spell the coordinates of config/versions.yaml.
#
#   fetch-jars.sh OUTPUT_DIR GROUP:ARTIFACT:VERSION...
set -euo pipefail

out=$1
shift
mkdir -p "$out"
for coordinate in "$@"; do
  IFS=: read -r _group artifact version <<<"$coordinate"
  echo "fetching $coordinate" >&2
  mvn -q -B -Dstyle.color=never dependency:copy "-Dartifact=$coordinate" "-DoutputDirectory=$out"
  if [[ ! -f "$out/$artifact-$version.jar" ]]; then
    echo "mvn ran but $out/$artifact-$version.jar is missing" >&2
    exit 1
  fi
done
