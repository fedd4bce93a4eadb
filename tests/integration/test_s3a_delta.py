"""Delta over s3a:// on the real S3 server, through the same Spark conf the DAG submits with."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from lakehouse.backends.storage import object_store


def test_delta_round_trip_over_s3a(s3_spark: SparkSession, s3_profile, run_id):
    path = s3_profile.spark_uri("silver", f"_it/{run_id}/people")
    df = s3_spark.createDataFrame([(1, "ada"), (2, "grace")], "id long, name string")
    df.write.format("delta").mode("overwrite").save(path)
    s3_spark.createDataFrame([(3, "alan")], "id long, name string").write.format("delta").mode(
        "append"
    ).save(path)

    back = s3_spark.read.format("delta").load(path)
    expected = s3_spark.createDataFrame(
        [(1, "ada"), (2, "grace"), (3, "alan")], "id long, name string"
    )
    assert_df_equality(back, expected, ignore_row_order=True)

    history = s3_spark.sql(f"DESCRIBE HISTORY delta.`{path}`").collect()
    assert [h.version for h in history] == [1, 0]
    old = s3_spark.read.format("delta").option("versionAsOf", 0).load(path)
    assert old.count() == 2

    keys = [o.key for o in object_store(s3_profile).list(s3_profile.zones.silver, f"_it/{run_id}/")]
    assert any(k.endswith("00000000000000000001.json") for k in keys), keys
    for key in keys:
        object_store(s3_profile).delete(s3_profile.zones.silver, key)
