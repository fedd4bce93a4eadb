"""minio-init against versitygw (docker/compose.versitygw.yml): create the zone buckets with
boto3 from the Airflow image, so the versitygw stack needs no MinIO client image. Same
environment as docker/minio/init.sh: S3_ENDPOINT, S3_ROOT_USER, S3_ROOT_PASSWORD,
LAKEHOUSE_BUCKETS. Idempotent."""

import os

import boto3
from botocore.exceptions import ClientError

s3 = boto3.client(
    "s3",
    endpoint_url=os.environ["S3_ENDPOINT"],
    aws_access_key_id=os.environ["S3_ROOT_USER"],
    aws_secret_access_key=os.environ["S3_ROOT_PASSWORD"],
    region_name="us-east-1",
)
buckets = os.environ["LAKEHOUSE_BUCKETS"].split()
for bucket in buckets:
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
print("buckets ready:", " ".join(buckets))
