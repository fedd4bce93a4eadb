"""Reliability fixtures: a lake of its own (fresh buckets) on the running S3 server, so injected
faults never touch the lake other suites use."""

from __future__ import annotations

import uuid

import pytest

from lakehouse.storage import object_store


@pytest.fixture
def lake(s3_profile):
    tag = uuid.uuid4().hex[:8]
    zones = {z: f"rel-{tag}-{z}" for z in s3_profile.zones.model_dump()}
    profile = s3_profile.model_copy(update={"zones": s3_profile.zones.model_validate(zones)})
    store = object_store(profile)
    for bucket in profile.bucket_names:
        store.ensure_bucket(bucket)
    yield profile, store
    s3 = store.client
    for bucket in profile.bucket_names:
        # Every key, directory markers included, children before their parents.
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
        for key in sorted(keys, reverse=True):
            s3.delete_object(Bucket=bucket, Key=key)
        s3.delete_bucket(Bucket=bucket)
