"""`make bench`: every layer of the pipeline timed at one scale, each next to a reference
measured in the same run, written to benchmarks/results/bench-scale-<scale>.json.

    python -m benchmarks.suite --scale 1 --runs 3        # then benchmarks.report renders

Stages (median, min and max of `runs` repetitions; ratios to the references are the headline):
- ingestion: RAW -> BRONZE on the local S3 server (own bench-* buckets) vs a boto3 copy loop of
  the same objects (the store's own copy throughput);
- silver, gold: the jobs' functions on a filesystem lake in one local[2] SparkSession vs a
  floor (Spark reading the same input and writing it unchanged as Delta) and a single-machine
  peer (the same logic as DuckDB SQL, benchmarks/peer_duckdb.py, checked against manifest.json);
- warehouse: the loader vs `psql \\copy` (benchmarks/warehouse_load.py), schema bench_loader;
- orchestration: from the real Airflow's finished master runs (read-only): end-to-end time
  minus the sum of task times, and the sensor-to-bronze latency of dropped files;
- peak RSS per stage: the Spark driver JVM, this process (DuckDB runs in it), S3 and PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

import psutil

from benchmarks import peer_compare, peer_duckdb
from benchmarks.warehouse_load import median, spread
from lakehouse.config import Profile, Zones, load_profile
from lakehouse.platform.airflow_api import AirflowApi

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
BENCH_ZONES = Zones(
    raw="bench-raw",
    bronze="bench-bronze",
    silver="bench-silver",
    gold="bench-gold",
    quarantine="bench-quarantine",
    metrics="bench-metrics",
)
FLOOR_BUCKET = "bench-copy-floor"
SEED = 42


# ------------------------------------------------------------------------------- memory
class RssSampler:
    """Peak resident memory per group of processes while a stage runs (sampled every 0.2 s):
    `spark` (the driver JVM, which also runs the local[2] executors), `python` (this process,
    where DuckDB runs), `s3` and `postgres` (the local profile's services with children)."""

    def __init__(self, service_pids: dict[str, int]) -> None:
        self.services = service_pids
        self.peaks: dict[str, dict[str, float]] = {}
        self._stage: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    @staticmethod
    def _tree_rss(pid: int, include_root: bool = True) -> int:
        try:
            root = psutil.Process(pid)
            procs = root.children(recursive=True) + ([root] if include_root else [])
        except psutil.Error:
            return 0
        total = 0
        for proc in procs:
            with suppress(psutil.Error):
                total += proc.memory_info().rss
        return total

    def sample(self) -> dict[str, int]:
        me = psutil.Process()
        out = {"python": me.memory_info().rss, "spark": self._tree_rss(me.pid, False)}
        for name, pid in self.services.items():
            out[name] = self._tree_rss(pid)
        return out

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            stage = self._stage
            if stage is None:
                continue
            peaks = self.peaks.setdefault(stage, {})
            for name, rss in self.sample().items():
                peaks[name] = max(peaks.get(name, 0), round(rss / 2**20))

    @contextmanager
    def stage(self, name: str):
        self._stage = name
        try:
            yield
        finally:
            self._stage = None

    def close(self) -> None:
        self._stop.set()


def service_pids(profile: Profile) -> dict[str, int]:
    from lakehouse.platform.services import Stack

    stack = Stack(profile)
    return {
        svc.name: pid
        for svc in stack.services
        if svc.name in ("s3", "postgres") and (pid := stack._pid(svc))
    }


# ------------------------------------------------------------------------------- helpers
def timed(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.monotonic()
    value = fn()
    return time.monotonic() - started, value


def spark_session(shuffle_partitions: int | None):
    """local[2] with the settings the jobs get on the local cluster (backends/spark_conf.py)."""
    from lakehouse.backends.spark_conf import local_session_conf
    from spark_jobs.runtime import build_session

    conf = local_session_conf(cores=2, driver_memory="6g", shuffle_partitions=shuffle_partitions)
    return build_session("bench-suite", conf)


def dataset(work: Path, scale: float, batches: int = 3) -> Path:
    """The generated dataset of this scale (seed 42), made once and kept under `work`."""
    from seed_data.generate import generate

    data = work / f"scale-{scale:g}" / ("data" if batches == 3 else f"data-{batches}b")
    if not (data / "manifest.json").is_file():
        shutil.rmtree(data, ignore_errors=True)
        generate(data, scale, SEED, batches=batches)
    return data


def batches_of(manifest: dict) -> list[int]:
    return [b["batch"] for b in manifest["batches"]]


def raw_files(data: Path, batches: list[int]) -> list[tuple[str, Path]]:
    from seed_data.generate import iter_raw_files

    return [item for batch in batches for item in iter_raw_files(data, batch)]


# ------------------------------------------------------------------------------- ingestion
def ingestion_run(profile: Profile, data: Path, batches: list[int]) -> dict:
    """One RAW -> BRONZE run on the S3 server, after the store's own copy of the same bytes."""
    from lakehouse import ingest
    from lakehouse.backends.storage import object_store

    store = object_store(profile)
    client = store.client
    for bucket in [*profile.bucket_names, FLOOR_BUCKET]:
        store.ensure_bucket(bucket)
        keys = [o.key for o in store.list(bucket)]
        for start in range(0, len(keys), 1000):
            client.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[start : start + 1000]]}
            )
    files = raw_files(data, batches)
    keys = []
    for name, path in files:
        key = f"{name}/{path.name}"
        store.put(profile.zones.raw, key, path.read_bytes())
        keys.append(key)
    nbytes = sum(p.stat().st_size for _n, p in files)

    def copy_loop() -> None:
        for key in keys:
            client.copy_object(
                Bucket=FLOOR_BUCKET, Key=key, CopySource={"Bucket": profile.zones.raw, "Key": key}
            )

    floor_s, _ = timed(copy_loop)
    datasets = sorted({name for name, _p in files})
    ingest_s, _ = timed(lambda: [ingest.ingest_dataset(profile, d, store) for d in datasets])
    return {"files": len(keys), "bytes": nbytes, "ingest_s": ingest_s, "floor_s": floor_s}


# ------------------------------------------------------------------------------- silver, gold
def silver_floor(spark, lake, files_by_dataset: dict, specs: dict, out: str) -> None:
    """Spark reading the same bronze files as the job and writing them unchanged as Delta (the
    per-file read and name conforming the job needs to union drifted files; no typing)."""
    from spark_jobs.silver.extract import extract

    bronze = lake.uri("bronze")
    for name, files in files_by_dataset.items():
        extract(spark, bronze, files, specs[name]).write.format("delta").mode("overwrite").save(
            f"{out}/{name}"
        )


def gold_floor(spark, lake, out: str) -> None:
    """Spark reading the silver tables gold is built from and writing them unchanged as Delta."""
    for name in ("events", "transactions", "users"):
        spark.read.format("delta").load(f"{lake.uri('silver')}/{name}").write.format("delta").mode(
            "overwrite"
        ).save(f"{out}/{name}")


def peer_run(spark, lake, data: Path, batches: list[int], specs: dict, work: Path) -> dict:
    """The DuckDB peer's SILVER and GOLD from the lake's BRONZE files and the operational
    source's upserts, timed, its GOLD figures, and every difference from Spark's tables row for
    row (SILVER and its quarantine written out as Parquet; GOLD's Parquet exports)."""
    # The peer's SILVER is the file datasets'; it reads the operational tables' history from
    # the upserts the source was loaded from (load_operational).
    specs = {n: s for n, s in specs.items() if s["source"] == "files"}
    peer_dir = work / "peer"
    shutil.rmtree(peer_dir, ignore_errors=True)
    peer_dir.mkdir(parents=True)
    con = peer_duckdb.connect()
    bronze_dir = lake.root / lake.profile.zones.bronze
    silver_s, silver = timed(
        lambda: {
            n: peer_duckdb.build_silver(
                con, spec, peer_duckdb.bronze_files(bronze_dir, n), peer_dir
            )
            for n, spec in specs.items()
        }
    )
    peer_duckdb.load_operational(con, data, batches)
    key = str(lake.profile.pseudonymisation.key).encode()
    gold_s, _ = timed(lambda: peer_duckdb.build_gold(con, peer_dir, key))
    figures = peer_duckdb.gold_figures(con)
    con.close()
    export = lake.root / lake.profile.zones.gold / "_export"
    differences = peer_compare.compare_gold(export, peer_dir, list(peer_duckdb.GOLD_TABLES))
    spark_silver = work / "spark-silver"
    for n in specs:
        for source, target in (
            (f"{lake.uri('silver')}/{n}", n),
            (f"{lake.quarantine_rows}/{n}", f"{n}_quarantine"),
        ):
            frame = spark.read.format("delta").load(source)
            frame.write.mode("overwrite").parquet(f"file://{spark_silver}/{target}")
    differences += peer_compare.compare_silver(spark_silver, peer_dir, list(specs))
    return {
        "silver_s": silver_s,
        "gold_s": gold_s,
        "silver_rows": {n: v["silver_rows"] for n, v in silver.items()},
        "gold_figures": figures,
        "differences": differences,
    }


def lake_run(spark, work: Path, data: Path, specs: dict, manifest: dict) -> dict:
    """SILVER and GOLD with their floor and peer, on a fresh filesystem lake."""
    from harness.inprocess import lake_at, publish_gold, to_silver
    from spark_jobs.silver.bookmark import pending_files

    root = work / "lake"
    shutil.rmtree(root, ignore_errors=True)
    source_db = load_profile("local").source_db
    lake = to_silver(spark, lake_at(root), data, batches_of(manifest), source_db)
    silver_rows_read = sum(
        m.get("rows_read", 0) for batch in lake.per_batch for m in batch.values()
    )
    silver_s = lake.seconds["silver"]
    publish_gold(spark, lake)
    gold_s = lake.seconds["gold"]
    gold_rows_in = sum(
        spark.read.format("delta").load(f"{lake.uri('silver')}/{n}").count()
        for n in ("events", "transactions", "users")
    )

    # Floors read the same bronze files (all batches at once) and the same silver tables.
    empty_silver = f"file://{work}/empty-silver"
    files = {n: pending_files(spark, lake.uri("bronze"), empty_silver, n) for n in specs}
    floor = f"file://{work}/floor"
    silver_floor_s, _ = timed(lambda: silver_floor(spark, lake, files, specs, f"{floor}/silver"))
    gold_floor_s, _ = timed(lambda: gold_floor(spark, lake, f"{floor}/gold"))

    peer = peer_run(spark, lake, data, batches_of(manifest), specs, work)
    figures = peer["gold_figures"]
    return {
        "lake": lake,
        "silver_rows_read": silver_rows_read,
        "gold_rows_in": gold_rows_in,
        "silver_s": silver_s,
        "gold_s": gold_s,
        "silver_floor_s": silver_floor_s,
        "gold_floor_s": gold_floor_s,
        "silver_peer_s": peer["silver_s"],
        "gold_peer_s": peer["gold_s"],
        "peer_silver_rows": peer["silver_rows"],
        "peer_gold_matches_manifest": figures == manifest["gold"],
        "peer_gold_figures": figures,
        "peer_gold_mismatches": {
            name: {"peer": figures.get(name), "manifest": expected}
            for name, expected in manifest["gold"].items()
            if figures.get(name) != expected
        },
        "peer_differences": peer["differences"],
    }


# ------------------------------------------------------------------------------- orchestration
def _ts(text: str | None) -> float | None:
    return datetime.fromisoformat(text).timestamp() if text else None


def _busy_seconds(intervals: list[tuple[float, float]]) -> float:
    """Length of the union of intervals (time during which at least one task ran)."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def orchestration(runs: int) -> dict:
    """Scheduler overhead of the latest finished, successful master runs and the latency from
    a file landing in RAW to its bronze copy through the ingest_<dataset> sensor DAGs; read
    from the local profile's Airflow and ingestion log, nothing triggered or changed."""
    from lakehouse.backends.storage import object_store
    from lakehouse.config.pipelines import MASTER_DAG_ID
    from lakehouse.config.registry import load_registry
    from lakehouse.platform.deploy import jobs

    profile = load_profile("local")
    spark_jobs = jobs(profile)
    api = AirflowApi(profile)
    done = [r for r in api.runs(MASTER_DAG_ID, 50) if r["state"] == "success"]
    per_run = []
    for run in done:
        instances = api.task_instances(MASTER_DAG_ID, run["dag_run_id"])
        if any(t["task_id"] == "settle_landings" and t["state"] == "skipped" for t in instances):
            continue  # started by landings another run had read: skipped in seconds
        if len(per_run) == runs:
            break
        tasks = [t for t in instances if t.get("start_date") and t.get("end_date")]
        spans = [(_ts(t["start_date"]), _ts(t["end_date"])) for t in tasks]
        e2e = _ts(run["end_date"]) - _ts(run["start_date"])
        task_sum = sum(b - a for a, b in spans)
        per_run.append(
            {
                "run_id": run["dag_run_id"],
                # The Spark stages' task times (one task each), the figures to compare with
                # the in-process stage times above.
                "spark_tasks_s": {
                    t["task_id"]: round(_ts(t["end_date"]) - _ts(t["start_date"]), 1)
                    for t in tasks
                    if t["task_id"] in spark_jobs
                },
                "e2e_s": round(e2e, 1),
                "task_sum_s": round(task_sum, 1),
                "overhead_s": round(e2e - task_sum, 1),
                "idle_s": round(e2e - _busy_seconds(spans), 1),
                "tasks": len(spans),
            }
        )
    out: dict = {"master_runs": per_run}
    if per_run:
        out["overhead_s"] = spread([r["overhead_s"] for r in per_run])
        out["idle_s"] = spread([r["idle_s"] for r in per_run])
        out["e2e_s"] = spread([r["e2e_s"] for r in per_run])
        out["overhead_share"] = round(out["overhead_s"]["median"] / out["e2e_s"]["median"], 3)

    # Sensor-to-bronze: records of the ingestion log written by an ingest_<dataset> DAG run's
    # ingestion task (not by the master DAG), landed time (RAW LastModified) to ingested_at.
    store = object_store(profile)
    latencies = []
    landed_by_run: dict[tuple[str, str], list[float]] = {}  # ingest run -> its files' landings
    for name in load_registry().file_datasets:
        windows = {}
        for run in api.runs(f"ingest_{name}", 100):
            if run["state"] != "success":
                continue
            for t in api.task_instances(f"ingest_{name}", run["dag_run_id"]):
                if t["task_id"] == "ingest" and t.get("end_date"):
                    windows[run["dag_run_id"]] = (_ts(t["start_date"]), _ts(t["end_date"]))
        if not windows:
            continue
        for obj in store.list(profile.zones.bronze, f"_ingestion_log/{name}/"):
            record = json.loads(store.get(profile.zones.bronze, obj.key))
            at, landed = _ts(record.get("ingested_at")), _ts(record.get("landed_at"))
            for run_id, (a, b) in windows.items():
                if at and landed and a - 1 <= at <= b + 1:
                    latencies.append(at - landed)
                    landed_by_run.setdefault((f"ingest_{name}", run_id), []).append(landed)
    if latencies:
        out["sensor_to_bronze_s"] = spread(latencies) | {"files": len(latencies)}
    landed_to_warehouse = _landed_to_warehouse(api, landed_by_run)
    if landed_to_warehouse:
        out["landed_to_warehouse_s"] = spread(landed_to_warehouse) | {
            "runs": len(landed_to_warehouse)
        }
    return out


def _landed_to_warehouse(api, landed_by_run: dict[tuple[str, str], list[float]]) -> list[float]:
    """Per master run started by landings that went through (its settle_landings not skipped):
    from the earliest RAW landing of the files behind its asset events to the run's end (the
    warehouse published and validated). Nothing is triggered; the runs are the ones there are
    (tests/e2e/test_landing.py leaves one)."""
    from lakehouse.config.pipelines import MASTER_DAG_ID

    out = []
    for run in api.runs(MASTER_DAG_ID, 50):
        if run["state"] != "success" or run.get("run_type") != "asset_triggered":
            continue
        states = {
            t["task_id"]: t["state"] for t in api.task_instances(MASTER_DAG_ID, run["dag_run_id"])
        }
        if states.get("settle_landings") != "success":
            continue
        landed = [
            at
            for event in api.upstream_asset_events(MASTER_DAG_ID, run["dag_run_id"])
            for at in landed_by_run.get((event["source_dag_id"], event["source_run_id"]), [])
        ]
        if landed:
            out.append(round(_ts(run["end_date"]) - min(landed), 1))
    return out


# ------------------------------------------------------------------------------- machine
def machine() -> dict:
    from lakehouse.config.versions import runtime

    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    import pyspark

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30),
        "os": platform.platform(),
        "python": platform.python_version(),
        "java": java.splitlines()[0] if java else "unknown",
        "spark": pyspark.__version__,
        "delta": runtime().delta,
        "duckdb": peer_duckdb.duckdb.__version__,
        "s3_server": "versitygw (native)",
        "postgres": subprocess.run(
            ["psql", "--version"], capture_output=True, text=True
        ).stdout.strip(),
    }


# ------------------------------------------------------------------------------- the suite
def rate(amount: float, seconds: float) -> float:
    return round(amount / seconds, 1) if seconds > 0 else 0.0


def run_suite(
    scale: float,
    runs: int,
    work: Path,
    shuffle_partitions: int | None = None,
    skip: tuple[str, ...] = (),
    batches: int = 3,
) -> dict:
    from lakehouse.config.registry import load_registry

    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    data = dataset(work, scale, batches)
    manifest = json.loads((data / "manifest.json").read_text())
    specs = {  # the file datasets: the floors and the peer read their bronze files
        s["dataset"]: s
        for s in json.loads(load_registry().silver_specs_json())
        if s["source"] == "files"
    }
    local = load_profile("local")
    s3_profile = local.model_copy(update={"zones": BENCH_ZONES})
    sampler = RssSampler(service_pids(local))
    result: dict = {
        "scale": scale,
        "seed": SEED,
        "runs": runs,
        "batches": batches,
        "date": datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "stages": {},
    }
    stages = result["stages"]

    if "ingestion" not in skip:
        ing = []
        for _ in range(runs):
            with sampler.stage("ingestion"):
                ing.append(ingestion_run(s3_profile, data, batches_of(manifest)))
        ing_s, floor_s = [r["ingest_s"] for r in ing], [r["floor_s"] for r in ing]
        files, mb = ing[0]["files"], ing[0]["bytes"] / 1e6
        stages["ingestion"] = {
            "files": files,
            "mb": round(mb, 2),
            "seconds": spread(ing_s),
            "floor_seconds": spread(floor_s),
            "files_per_s": rate(files, median(ing_s)),
            "mb_per_s": rate(mb, median(ing_s)),
            "floor_files_per_s": rate(files, median(floor_s)),
            "floor_mb_per_s": rate(mb, median(floor_s)),
            "ratio_to_floor": round(median(ing_s) / median(floor_s), 2),
        }

    lake = None
    if "lake" not in skip:
        from pyspark.sql import SparkSession

        # A session that already runs (the test suite's) is reused and left running.
        own_session = SparkSession.getActiveSession() is None
        spark = spark_session(shuffle_partitions)
        lr = []
        for i in range(runs):
            with sampler.stage("silver_gold"):
                lr.append(lake_run(spark, work / f"scale-{scale:g}" / "run", data, specs, manifest))
            print(
                f"lake run {i + 1}/{runs}: silver {lr[-1]['silver_s']:.1f}s, "
                f"gold {lr[-1]['gold_s']:.1f}s",
                flush=True,
            )
        lake = lr[-1]["lake"]
        for stage, rows_key in (("silver", "silver_rows_read"), ("gold", "gold_rows_in")):
            own = [r[f"{stage}_s"] for r in lr]
            floor = [r[f"{stage}_floor_s"] for r in lr]
            peer = [r[f"{stage}_peer_s"] for r in lr]
            rows = lr[0][rows_key]
            stages[stage] = {
                "rows_in": rows,
                "seconds": spread(own),
                "floor_seconds": spread(floor),
                "peer_seconds": spread(peer),
                "rows_per_s": rate(rows, median(own)),
                "floor_rows_per_s": rate(rows, median(floor)),
                "peer_rows_per_s": rate(rows, median(peer)),
                "ratio_to_floor": round(median(own) / median(floor), 2),
                "ratio_to_peer": round(median(own) / median(peer), 2),
            }
        result["peer"] = {
            "gold_matches_manifest": all(r["peer_gold_matches_manifest"] for r in lr),
            "gold_figures": lr[0]["peer_gold_figures"],
            "gold_mismatches": lr[0]["peer_gold_mismatches"],  # figure -> both values
            # Every SILVER table, its quarantine and every GOLD table the peer builds, row for
            # row against Spark's (peer_compare.py).
            "differences": [d for r in lr for d in r["peer_differences"]],
            "silver_rows": lr[0]["peer_silver_rows"],
            "manifest_silver_rows": {n: d["silver_rows"] for n, d in manifest["datasets"].items()},
        }
        result["spark_conf"] = {
            k: spark.conf.get(k)
            for k in (
                "spark.sql.shuffle.partitions",
                "spark.sql.adaptive.enabled",
                "spark.sql.adaptive.coalescePartitions.enabled",
            )
        }

    if "warehouse" not in skip and lake is not None:
        from benchmarks import warehouse_load

        with sampler.stage("warehouse"):
            wh = warehouse_load.measure(lake, work / f"scale-{scale:g}" / "warehouse", runs)
        stages["warehouse"] = {
            "rows": wh["rows"],
            "seconds": wh["loader_s"],
            "floor_seconds": wh["psql_copy_s"],
            "rows_per_s": wh["loader_rows_per_s"],
            "floor_rows_per_s": wh["psql_copy_rows_per_s"],
            "ratio_to_floor": wh["loader_to_psql_copy_time_ratio"],
            "csv_mb": wh["csv_mb"],
        }
    if "lake" not in skip and own_session:
        spark.stop()

    if "orchestration" not in skip:
        try:
            stages["orchestration"] = orchestration(max(runs, 3))
        except Exception as exc:  # Airflow down: the other stages still count
            stages["orchestration"] = {"error": f"{type(exc).__name__}: {exc}"}

    sampler.close()
    result["peak_rss_mb"] = sampler.peaks
    result["suite_seconds"] = round(time.monotonic() - started, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=ROOT / ".stack" / "bench")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--shuffle-partitions",
        type=int,
        help="override spark.sql.shuffle.partitions (default: lakehouse/backends/spark_conf.py)",
    )
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["ingestion", "lake", "warehouse", "orchestration"]
    )
    parser.add_argument("--batches", type=int, default=3, help="batches of the dataset (3)")
    parser.add_argument("--no-report", action="store_true", help="write the JSON only")
    args = parser.parse_args()
    result = run_suite(
        args.scale, args.runs, args.work, args.shuffle_partitions, tuple(args.skip), args.batches
    )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"bench-scale-{args.scale:g}.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {path} ({result['suite_seconds']} s)")
    if not args.no_report:
        from benchmarks import report

        print(f"wrote {report.render(args.out)}")


if __name__ == "__main__":
    main()
