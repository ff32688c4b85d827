"""The recommender pipeline at a given data size: generate → import → train (top 100 for every user → Redis).

    python bench/scale.py --size 1m            # or small, 20m; --keep to keep the database and files
    python bench/scale.py --size 20m --no-train --api    # the API's latencies at that size (bench/api_latency.py)

Each step runs as its own process under ``/usr/bin/time``, which reports its wall time and peak resident memory;
the training's own step timings come from its ``ModelRun``. Everything runs against a database and Redis
database of its own (``--database``, ``--redis-db``), recreated at the start. Prints a Markdown table for
docs/scaling.md and, with ``--json``, appends the figures to a file.
"""

import argparse
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2
import redis

ROOT = Path(__file__).resolve().parent.parent
# Wall seconds, CPU seconds (user, system; all threads) and peak resident set in KiB. CPU time says how much work a
# step is even when other processes share the cores, which stretches its wall time.
TIME_FORMAT = "%e %U %S %M"


def _run_step(name: str, command: list[str], env: dict[str, str], log_dir: Path) -> dict:
    """Runs ``command`` under /usr/bin/time; returns its wall and CPU time and peak memory (and its output
    file)."""
    timing_file = log_dir / f"{name}.time"
    output_file = log_dir / f"{name}.log"
    print(f"[{time.strftime('%H:%M:%S')}] {name}: {' '.join(command)}", flush=True)
    with output_file.open("w") as output:
        completed = subprocess.run(  # noqa: S603 - our own fixed commands
            ["/usr/bin/time", "-o", str(timing_file), "-f", TIME_FORMAT, *command],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if completed.returncode != 0:
        sys.exit(f"{name} failed (exit {completed.returncode}); see {output_file}:\n{output_file.read_text()[-3000:]}")
    wall, user, system, peak_kib = timing_file.read_text().split()[-4:]
    return {
        "seconds": float(wall),
        "cpu_seconds": float(user) + float(system),
        "peak_mib": int(peak_kib) / 1024,
        "log": str(output_file),
    }


def _database_recreate(admin_url: str, name: str) -> None:
    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


def _database_drop(admin_url: str, name: str) -> None:
    connection = psycopg2.connect(admin_url)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()


# Only the columns it needs: the model may have gained fields since this database was migrated.
LAST_RUN_SCRIPT = """import json
from recommender.models import ModelRun
fields = ("algorithm", "timings", "metrics", "n_users", "n_items", "n_interactions", "status")
print(json.dumps(ModelRun.objects.order_by("-pk").values(*fields).first()))
"""


def machine_description() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{os.cpu_count()} × {cpu}, {memory_kib / 1024**2:.1f} GiB RAM, Python {platform.python_version()}, "
        f"load average at start {load}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=("small", "1m", "20m"), required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database", default="nexus_scale", help="PostgreSQL database (dropped and recreated).")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432", help="Server URL, no database.")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis URL, no database number.")
    parser.add_argument("--redis-db", type=int, default=6, help="Redis database (flushed at start and end).")
    parser.add_argument("--workdir", help="Where the generated files go (default: a temporary folder).")
    parser.add_argument("--keep", action="store_true", help="Keep the database, Redis data and generated files.")
    parser.add_argument("--json", help="Append the figures as one JSON line to this file.")
    parser.add_argument("--no-train", action="store_true", help="Import only (with --api: the API without a model).")
    parser.add_argument(
        "--api", action="store_true", help="Then measure the API's latencies at this size (bench/api_latency.py)."
    )
    args = parser.parse_args()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix=f"nexus-scale-{args.size}-"))
    data_dir, log_dir = workdir / "data", workdir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    redis_url = f"{args.redis}/{args.redis_db}"
    env = {
        **os.environ,
        "DATABASE_URL": f"{args.postgres}/{args.database}",
        "REDIS_URL": redis_url,
        "PYTHONUNBUFFERED": "1",
    }
    # Production settings (DEBUG off, so that no query log grows), with throwaway keys where none are set.
    for key in ("SECRET_KEY", "JWT_SECRET_KEY"):
        env.setdefault(key, secrets.token_urlsafe(48))
    env.pop("DEBUG", None)
    env.pop("CELERY_BROKER_URL", None)  # nothing is queued: training runs in the command's own process
    python = [sys.executable, "manage.py"]
    store = redis.Redis.from_url(redis_url)

    machine = machine_description()
    print(machine, flush=True)
    steps: dict[str, dict] = {}
    steps["generate"] = _run_step(
        "generate",
        [*python, "generate_synthetic", "--size", args.size, "--seed", str(args.seed), "--out", str(data_dir)],
        env,
        log_dir,
    )
    _database_recreate(f"{args.postgres}/postgres", args.database)
    store.flushdb()
    steps["migrate"] = _run_step("migrate", [*python, "migrate", "--noinput", "-v", "0"], env, log_dir)
    steps["import"] = _run_step("import", [*python, "import_movielens", str(data_dir), "--no-train"], env, log_dir)
    if args.api:  # before any training: ratings queue refreshes, which a broker queue of its own keeps
        api_env = {**env, "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", "")}
        api_json = log_dir / "api.json"
        _run_step("api", [sys.executable, "-m", "bench.api_latency", "--json", str(api_json)], api_env, log_dir)
        print((log_dir / "api.log").read_text(), flush=True)
        if args.json:
            with open(args.json, "a") as file:
                file.write(json.dumps({"size": args.size, "machine": machine, **json.loads(api_json.read_text())}))
                file.write("\n")
    if args.no_train:
        _cleanup(args, store, workdir)
        return
    steps["train"] = _run_step("train", [*python, "train_recommender"], env, log_dir)
    run = json.loads(
        subprocess.run(  # noqa: S603 - our own fixed command
            [*python, "shell", "-v", "0", "-c", LAST_RUN_SCRIPT],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    redis_memory_mib = store.info("memory")["used_memory"] / 1024**2
    user_lists = sum(1 for _ in store.scan_iter(match="*:user:*", count=10_000))

    pipeline = ("import", "train")
    result = {
        "size": args.size,
        "machine": machine,
        "users": run["n_users"],
        "movies": run["n_items"],
        "interactions": run["n_interactions"],
        "algorithm": run["algorithm"],
        "steps": {name: {key: value for key, value in step.items() if key != "log"} for name, step in steps.items()},
        "train_timings": run["timings"],
        "metrics": run["metrics"],
        "redis_used_mib": round(redis_memory_mib, 1),
        "user_lists_in_redis": user_lists,
        "pipeline_seconds": sum(steps[name]["seconds"] for name in pipeline),
        "pipeline_cpu_seconds": sum(steps[name]["cpu_seconds"] for name in pipeline),
        "pipeline_peak_mib": max(steps[name]["peak_mib"] for name in pipeline),
        "load_average_at_end": os.getloadavg(),
    }

    print()
    print(
        f"{args.size}: {run['n_users']:,} users, {run['n_items']:,} movies, {run['n_interactions']:,} ratings; "
        f"algorithm {run['algorithm']}"
    )
    print("| step | wall | CPU (user + system) | peak RSS |")
    print("| --- | ---: | ---: | ---: |")
    for name, step in steps.items():
        print(f"| {name} | {step['seconds']:.1f} s | {step['cpu_seconds']:.1f} s | {step['peak_mib']:,.0f} MiB |")
    print(
        f"| **import + train** | **{result['pipeline_seconds']:.1f} s** | {result['pipeline_cpu_seconds']:.1f} s "
        f"| **{result['pipeline_peak_mib']:,.0f} MiB** |"
    )
    print()
    print("Training steps (ModelRun.timings): " + ", ".join(f"{k} {v:.1f} s" for k, v in run["timings"].items()))
    print(f"User lists in Redis: {user_lists:,} ({redis_memory_mib:,.0f} MiB used by Redis db {args.redis_db})")
    print("Load average at the end: " + ", ".join(f"{value:.2f}" for value in os.getloadavg()))
    if args.json:
        with open(args.json, "a") as file:
            file.write(json.dumps(result) + "\n")

    _cleanup(args, store, workdir)


def _cleanup(args: argparse.Namespace, store: redis.Redis, workdir: Path) -> None:
    if not args.keep:
        store.flushdb()
        _database_drop(f"{args.postgres}/postgres", args.database)
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
