"""The recommender pipeline at a given data size: generate → import → train (top 100 for every user → Redis).

    python bench/scale.py --size 1m            # or small, 20m; --keep to keep the database and files
    python bench/scale.py --size 20m --no-train --api    # the API's latencies at that size (bench/api_latency.py)
    python bench/scale.py --size 20m --precompute-workers 1 2 --shards 8    # the fan-out (needs CELERY_BROKER_URL)

Each step runs as its own process under ``/usr/bin/time``, which reports its wall time and peak resident memory;
the training's own step timings come from its ``ModelRun``. Everything runs against a database and Redis
database of its own (``--database``, ``--redis-db``), recreated at the start (``--reuse``: the ones an earlier
``--keep`` run left, without generating or importing again). Prints a Markdown table for docs/scaling.md and, with
``--json``, appends the figures to a file.

``--precompute-workers P …``: after the one-process training (every list ranked in the command's process, on one
thread per CPU), for each P, one ``celery worker -c P`` (P prefork processes, each ranking on ``--rank-threads``
threads: ``NEXUS_RANK_THREADS``) on a queue of its own, and ``train_recommender --shards N`` with it: the precompute
step is ``ModelRun.timings["precompute"]``, from the shards queued to the version switch (not the load or the fit).
With ``--no-train``, the fan-out runs alone: ``--reuse --no-train --precompute-workers 1 2`` repeats a measurement.
"""

import argparse
import json
import multiprocessing
import os
import platform
import re
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


def _last_run(python: list[str], env: dict[str, str]) -> dict:
    """The newest ``ModelRun``'s figures."""
    completed = subprocess.run(  # noqa: S603 - our own fixed command
        [*python, "shell", "-v", "0", "-c", LAST_RUN_SCRIPT],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.strip())


SHARD_LINE = re.compile(r"lists ranked on (\d+) threads? in ([0-9.]+) s")


def _precompute_run(args: argparse.Namespace, env: dict[str, str], processes: int, log_dir: Path) -> dict:
    """``train_recommender --shards`` with one ``celery worker -c processes`` taking the shards."""
    queue = f"nexus-scale-{os.getpid()}-{processes}"  # a broker shared with others: queues of its own
    worker_env = {
        **env,
        "CELERY_BROKER_URL": args.broker,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "NEXUS_RANK_THREADS": str(args.rank_threads),
    }
    worker_log = log_dir / f"worker-c{processes}.log"
    command = [sys.executable, "-m", "celery", "-A", "nexus", "worker", "-c", str(processes), "-l", "info"]
    command += ["-n", f"{queue}@%h", "--without-gossip", "--without-mingle"]
    with worker_log.open("w") as output:
        worker = subprocess.Popen(command, env=worker_env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        deadline = time.monotonic() + 120
        while " ready." not in worker_log.read_text():
            if worker.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"the worker did not start; see {worker_log}:\n{worker_log.read_text()[-3000:]}")
            time.sleep(0.5)
        step = _run_step(
            f"train-shards-c{processes}",
            [sys.executable, "manage.py", "train_recommender", "--shards", str(args.shards), "--timeout", "7200"],
            worker_env,
            log_dir,
        )
    finally:
        worker.terminate()  # a warm shutdown, idle by now: the worker stops its pool processes and exits
        worker.wait(timeout=120)
    run = _last_run([sys.executable, "manage.py"], env)
    if run["status"] != "succeeded":
        sys.exit(f"the fanned-out training did not succeed ({run['status']}); see {worker_log}")
    shards = [(int(threads), float(seconds)) for threads, seconds in SHARD_LINE.findall(worker_log.read_text())]
    return {
        "processes": processes,
        "rank_threads": sorted({threads for threads, _ in shards}),
        "shards": len(shards),
        "shard_seconds": [seconds for _, seconds in shards],
        "precompute_seconds": run["timings"]["precompute"],
        "train": {key: value for key, value in step.items() if key != "log"},
        "train_timings": run["timings"],
        "status": run["status"],
        "load_average_at_end": os.getloadavg(),
    }


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
    parser.add_argument(
        "--no-train", action="store_true", help="No one-process training (with --api: the API without a model)."
    )
    parser.add_argument(
        "--api", action="store_true", help="Then measure the API's latencies at this size (bench/api_latency.py)."
    )
    parser.add_argument("--reuse", action="store_true", help="The database and files of a --keep run: no import.")
    parser.add_argument(
        "--precompute-workers", type=int, nargs="*", default=[], metavar="P", help="Then the fan-out on P processes."
    )
    parser.add_argument("--shards", type=int, default=8, help="Precompute shards of each fanned-out training.")
    parser.add_argument("--rank-threads", type=int, default=1, help="NEXUS_RANK_THREADS of the worker processes.")
    parser.add_argument("--broker", default=os.environ.get("CELERY_BROKER_URL", ""), help="For the fan-out.")
    args = parser.parse_args()
    if args.precompute_workers and not args.broker:
        parser.error("--precompute-workers needs a broker: --broker or CELERY_BROKER_URL")
    if args.reuse and not args.workdir:
        parser.error("--reuse needs the --workdir of the run that kept the data")

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
    env.pop("NEXUS_RANK_THREADS", None)  # the one-process training ranks on one thread per CPU
    env.pop("CELERY_BROKER_URL", None)  # nothing is queued: training runs in the command's own process
    python = [sys.executable, "manage.py"]
    store = redis.Redis.from_url(redis_url)

    machine = machine_description()
    print(machine, flush=True)
    steps: dict[str, dict] = {}
    if not args.reuse:
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
        _json_append(args, {"size": args.size, "machine": machine, **json.loads(api_json.read_text())})
    if args.no_train:  # with --precompute-workers: the fan-out alone, without the one-process training
        if args.precompute_workers:
            fanned, capacity = _precompute_runs(args, env, log_dir, one_process=None)
            _json_append(
                args, {"size": args.size, "machine": machine, "precompute": fanned, "parallel_capacity": capacity}
            )
        _cleanup(args, store, workdir)
        return
    steps["train"] = _run_step("train", [*python, "train_recommender"], env, log_dir)
    run = _last_run(python, env)
    redis_memory_mib = store.info("memory")["used_memory"] / 1024**2
    user_lists = sum(1 for _ in store.scan_iter(match="*:user:*", count=10_000))

    pipeline = [name for name in ("import", "train") if name in steps]
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
    if args.precompute_workers:
        result["precompute"], result["parallel_capacity"] = _precompute_runs(args, env, log_dir, run["timings"])
    _json_append(args, result)

    _cleanup(args, store, workdir)


def _json_append(args: argparse.Namespace, result: dict) -> None:
    if args.json:
        with open(args.json, "a") as file:
            file.write(json.dumps(result) + "\n")


def _busy_loop(iterations: int) -> None:
    total = 0
    for number in range(iterations):
        total += number


def parallel_capacity(processes: int, iterations: int = 20_000_000) -> float:
    """How many times the work of one busy process ``processes`` of them get done in the same time, right now (a
    pure-Python loop each, no memory traffic): the ceiling of a fan-out's speed-up on this machine at this moment,
    whose cores other processes may share."""
    seconds = []
    for count in (1, processes):
        started = time.perf_counter()
        loops = [multiprocessing.Process(target=_busy_loop, args=(iterations,)) for _ in range(count)]
        for loop in loops:
            loop.start()
        for loop in loops:
            loop.join()
        seconds.append(time.perf_counter() - started)
    return processes * seconds[0] / seconds[1]


def _precompute_runs(
    args: argparse.Namespace, env: dict[str, str], log_dir: Path, one_process: dict | None
) -> tuple[list[dict], list[float]]:
    """The fan-out on each number of processes of ``--precompute-workers``, then a Markdown table of them. Before
    each run and after the last, the machine's parallel capacity for the most processes (other processes share
    the cores: it moves from minute to minute)."""
    most = max(args.precompute_workers)
    capacity, runs = [], []
    for processes in args.precompute_workers:
        capacity.append(parallel_capacity(most))
        runs.append(_precompute_run(args, env, processes, log_dir))
    capacity.append(parallel_capacity(most))
    print()
    if one_process is not None:
        print(
            f"One process, {len(os.sched_getaffinity(0))} threads (train_recommender): recommend "
            f"{one_process['recommend']:.1f} s + write {one_process['write']:.1f} s"
        )
    print(
        f"| processes × threads | precompute ({args.shards} shards) | speed-up | shards "
        f"| {most} busy processes ÷ 1 before | load average at end |"
    )
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    one = next((fanned for fanned in runs if fanned["processes"] == 1), runs[0])
    for fanned, before in zip(runs, capacity, strict=False):
        speed_up = one["precompute_seconds"] / fanned["precompute_seconds"]
        shard_range = f"{min(fanned['shard_seconds']):.1f}–{max(fanned['shard_seconds']):.1f} s"
        load = " / ".join(f"{value:.2f}" for value in fanned["load_average_at_end"])
        print(
            f"| {fanned['processes']} × {', '.join(map(str, fanned['rank_threads']))} "
            f"| {fanned['precompute_seconds']:.1f} s | {speed_up:.2f}× | {shard_range} | {before:.2f}× | {load} |"
        )
    print(f"{most} busy processes ÷ 1 after the last run: {capacity[-1]:.2f}× (bench/scale.py parallel_capacity)")
    return runs, capacity


def _cleanup(args: argparse.Namespace, store: redis.Redis, workdir: Path) -> None:
    if not args.keep:
        store.flushdb()
        _database_drop(f"{args.postgres}/postgres", args.database)
        shutil.rmtree(workdir)


if __name__ == "__main__":
    main()
