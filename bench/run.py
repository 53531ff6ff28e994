"""The falcon-img benchmark: `make bench` (or `.venv/bin/python bench/run.py [--quick]`).

Seeds a dataset in a temp instance dir, starts the app under Gunicorn with the
repo's gunicorn.conf.py, and measures it with wrk against references started
in the same run: nginx serving the same blob files, and a minimal Falcon app
replaying the same response bytes. Every ratio comes from alternating rounds
(A B A B …) and compares medians of requests/s, so a busy machine slows both
sides alike. Prints a results table and writes it to bench/results/latest.md.
See bench/README.md for what each line means and the recorded figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import dataset as seeding  # noqa: E402
from bench.floor_app import FILES_ENV, RESPONSES_ENV, save_responses  # noqa: E402
from bench.loadgen import (  # noqa: E402
    POST_COMMENT_LUA, Comparison, Side, Wrk, compare, require_tools, streaming_upload, timed_get,
)
from bench.servers import (  # noqa: E402
    Server, WorkerSettings, conf_without_access_log, fetch, process_memory, reset_peak_memory, start_gunicorn,
    start_nginx,
)

RESULTS_FILE = REPO / "bench" / "results" / "latest.md"
API = "/api/v1.0"
INSTALL_HINT = "apt-get update && apt-get install -y wrk nginx"
MIB = 1024 * 1024
PACKAGES = ("gunicorn", "falcon", "peewee", "marshmallow", "orjson", "pillow")


@dataclasses.dataclass(frozen=True)
class Plan:
    size: seeding.Size
    rounds: int
    seconds: float
    warmup: float
    post_seconds: float
    sweep_seconds: float


FULL_PLAN = Plan(size=seeding.FULL, rounds=7, seconds=3, warmup=1, post_seconds=10, sweep_seconds=3)
QUICK_PLAN = Plan(size=seeding.QUICK, rounds=2, seconds=1, warmup=1, post_seconds=2, sweep_seconds=1)

#: Worker settings tried by the sweep (2 cores: 2-4 sync workers, and gthread).
SWEEP = [WorkerSettings(2), WorkerSettings(3), WorkerSettings(4), WorkerSettings(2, 4), WorkerSettings(3, 4)]
DEFAULT_WORKERS = WorkerSettings(2, 4)


@dataclasses.dataclass
class Row:
    key: str
    what: str
    measured: str
    value: str
    target: str
    passed: bool | None
    note: str = ""
    #: The same ratio from server CPU time per request (see README: steadier on a busy machine).
    cpu_value: str = "-"

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "MISS", None: "info"}[self.passed]


class Report:
    def __init__(self) -> None:
        self.rows: list[Row] = []
        self.sweep: list[tuple[str, float, float]] = []

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(f"  -> {row.key} {row.what}: {row.value} (CPU ratio {row.cpu_value}; {row.measured}) "
              f"target {row.target}: {row.verdict}"
              + (f" [{row.note}]" if row.note else ""), flush=True)

    def table(self) -> str:
        lines = [
            "| | measurement | measured | ratio / value | CPU ratio | target | result |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in sorted(self.rows, key=lambda row: row.key[0]):
            measured = row.measured + (f"; {row.note}" if row.note else "")
            lines.append(f"| {row.key} | {row.what} | {measured} | {row.value} | {row.cpu_value} | {row.target} "
                         f"| {row.verdict} |")
        return "\n".join(lines)

    def sweep_table(self) -> str:
        if not self.sweep:
            return ""
        lines = ["| worker settings | GET /images/{id} req/s | GET /file/<100 KB> req/s |", "|---|---|---|"]
        lines += [f"| {label} | {item:,.0f} | {file:,.0f} |" for label, item, file in self.sweep]
        return "\n".join(lines)


def log(message: str) -> None:
    print(message, flush=True)


def rps(value: float) -> str:
    return f"{value:,.0f}"


def cpu_note(result: Comparison) -> str:
    if result.a_cpu_us is None or result.b_cpu_us is None:
        return ""
    return f"; server CPU/request {result.a_cpu_us:,.0f} vs {result.b_cpu_us:,.0f} µs"


def comparison_row(key: str, what: str, result: Comparison, minimum: float | None, target: str = "") -> Row:
    measured = f"{rps(result.a_rps)} vs {rps(result.b_rps)} req/s (rounds {result.spread}){cpu_note(result)}"
    return Row(
        key=key, what=what, measured=measured, value=f"{result.ratio:.2f}x",
        target=target or (f">= {minimum:g}x" if minimum is not None else "-"),
        passed=None if minimum is None else result.ratio >= minimum,
        note=result.errors(),
        cpu_value=f"{result.b_cpu_us / result.a_cpu_us:.2f}x" if result.a_cpu_us and result.b_cpu_us else "-",
    )


# -- the measurements ------------------------------------------------------------

def side(server: Server, path: str, label: str = "") -> Side:
    return Side(label or server.name, server.url(path), cpu=server.cpu_seconds)


JSON_CASES = [
    # key, what, path (image id filled in), minimum ratio to the floor
    ("b1", "GET /images/{id} vs floor", API + "/images/{id}", 0.5),
    ("b2", "GET /images?limit=100 vs floor", API + "/images?limit=100", 0.15),
    ("b3", "GET /images/{id}/comments?limit=50 vs floor", API + "/images/{id}/comments?limit=50", None),
]


def json_paths(data: seeding.Dataset) -> list[str]:
    return [path.replace("{id}", str(data.tested_image_id)) for _, _, path, _ in JSON_CASES]


def record(app: Server, paths: list[str]) -> dict[str, tuple[str, bytes]]:
    """The service's answers (Content-Type and body) for the floor app to replay."""
    responses = {}
    for path in paths:
        status, headers, body = fetch(app.port, path)
        if status != 200:
            raise SystemExit(f"{path} answered {status}: {body[:300]!r}")
        responses[path] = (headers.get("Content-Type", ""), body)
    return responses


def start_floor(run_dir: Path, workers: WorkerSettings, app: Server, data: seeding.Dataset) -> Server:
    """The minimal Falcon app, under the same gunicorn.conf.py and worker settings as the service."""
    responses = record(app, json_paths(data))
    recorded = run_dir / "floor-responses.json"
    save_responses(recorded, responses)
    env = {RESPONSES_ENV: str(recorded), FILES_ENV: str(data.storage_root)}
    floor = start_gunicorn("floor", run_dir, workers, env, app="bench.floor_app:app")
    try:
        floor.wait_ready(json_paths(data)[0])
        for path, (_, body) in responses.items():
            if fetch(floor.port, path)[2] != body:
                raise SystemExit(f"the floor app does not replay {path} byte for byte")
    except BaseException:
        floor.stop()
        raise
    return floor


def measure_files(report: Report, wrk: Wrk, plan: Plan, app: Server, nginx: Server, floor: Server,
                  data: seeding.Dataset) -> None:
    """(a) GET /file/<name> through the app vs the same bytes from nginx; and the Falcon floor's ceiling."""
    small = f"~{statistics.median(data.small_sizes) / 1000:.0f} KB"
    large = f"{data.large_size / MIB:.1f} MiB"
    cases = [
        ("a1", f"GET /file, {small} image vs nginx", data.small_names[0], data.small_blob_path, 0.35),
        ("a2", f"GET /file, {large} image vs nginx", data.large_name, data.large_blob_path, 0.8),
    ]
    for key, what, name, blob_path, minimum in cases:
        app_path, nginx_path, floor_path = f"{API}/file/{name}", f"/{blob_path}", f"/blobs/{blob_path}"
        bodies = [fetch(server.port, path)[2] for server, path in
                  ((app, app_path), (nginx, nginx_path), (floor, floor_path))]
        if not bodies[0] == bodies[1] == bodies[2]:
            raise SystemExit(f"{key}: the app, nginx and the floor app do not send the same bytes for {name}")
        log(f"{key}: {what}")
        result = compare(wrk, side(app, app_path), side(nginx, nginx_path),
                         plan.rounds, plan.seconds, plan.warmup)
        report.add(comparison_row(key, what, result, minimum))
        what = what.replace("GET /file", "minimal Falcon app sending the file").replace(" image", "")
        log(f"{key}-floor: {what}")
        result = compare(wrk, side(floor, floor_path), side(nginx, nginx_path),
                         plan.rounds, plan.seconds, plan.warmup)
        report.add(comparison_row(f"{key}-floor", what + " (ceiling of these Gunicorn settings)", result, None))


def measure_json(report: Report, wrk: Wrk, plan: Plan, app: Server, floor: Server, data: seeding.Dataset) -> None:
    """(b) JSON reads vs the floor app answering the same bytes under the same Gunicorn settings."""
    for (key, what, _, minimum), path in zip(JSON_CASES, json_paths(data)):
        log(f"{key}: {what} ({len(fetch(app.port, path)[2]):,} bytes)")
        result = compare(wrk, side(app, path), side(floor, path),
                         plan.rounds, plan.seconds, plan.warmup)
        report.add(comparison_row(key, what, result, minimum))


def measure_access_log(report: Report, wrk: Wrk, plan: Plan, floor: Server, run_dir: Path,
                       workers: WorkerSettings, data: seeding.Dataset) -> None:
    """What Gunicorn's access log costs a request: the floor app with it vs without it."""
    path = json_paths(data)[0]
    env = {RESPONSES_ENV: str(run_dir / "floor-responses.json")}
    with start_gunicorn("floor-no-log", run_dir, workers, env, app="bench.floor_app:app",
                        conf=conf_without_access_log(run_dir)) as quiet:
        quiet.wait_ready(path)
        what = "floor app (GET /images/{id}) with the access log vs without"
        log(f"b-log: {what}")
        result = compare(wrk, side(floor, path), side(quiet, path, "floor without log"),
                         plan.rounds, plan.seconds, plan.warmup)
        report.add(comparison_row("b-log", what, result, None))


def measure_depth(report: Report, wrk: Wrk, plan: Plan, run_dir: Path, depth: seeding.DepthTable,
                  workers: WorkerSettings) -> None:
    """(c) The page at depth rows-1000 vs the first page, on the big table."""
    deep_path = f"{API}/images?limit=100&after={depth.deep_after}"
    first_path = f"{API}/images?limit=100"
    env = {"FALCON_IMG_INSTANCE_DIR": str(depth.settings.instance_dir),
           "FALCON_IMG_STORAGE_URL": depth.settings.resolved_storage_url}
    with start_gunicorn("depth", run_dir, workers, env) as server:
        server.wait_ready("/healthz")
        for path in (deep_path, first_path):
            status, _, body = fetch(server.port, path)
            count = len(json.loads(body).get("images", [])) if status == 200 else 0
            if count != 100:
                raise SystemExit(f"{path} answered {status} with {count} images: {body[:300]!r}")
        what = f"page at depth {depth.rows - 1000:,} vs first page ({depth.rows:,} rows)"
        log(f"c: {what}")
        result = compare(wrk, side(server, first_path, "first"), side(server, deep_path, "deep"),
                         plan.rounds, plan.seconds, plan.warmup)
    # first/deep requests/s is deep/first time per request.
    slowdown = result.ratio
    report.add(Row(
        key="c", what=what,
        measured=f"deep {rps(result.b_rps)} vs first {rps(result.a_rps)} req/s (rounds {result.spread})"
                 + (f"; server CPU/request {result.b_cpu_us:,.0f} vs {result.a_cpu_us:,.0f} µs"
                    if result.a_cpu_us and result.b_cpu_us else ""),
        value=f"{slowdown:.2f}x time", target="<= 1.5x time", passed=slowdown <= 1.5, note=result.errors(),
        cpu_value=f"{result.b_cpu_us / result.a_cpu_us:.2f}x" if result.a_cpu_us and result.b_cpu_us else "-",
    ))


def measure_variants(report: Report, wrk: Wrk, plan: Plan, app: Server, data: seeding.Dataset) -> None:
    """(d) A cached ?w=320 variant vs the original file; cold vs cached variant of a 3000x2000 JPEG."""
    name = data.small_names[1]
    original_path, variant_path = f"{API}/file/{name}", f"{API}/file/{name}?w=320"
    _, original_headers, original = fetch(app.port, original_path)
    status, headers, body = fetch(app.port, variant_path)
    if status != 200 or (headers.get("ETag") == original_headers.get("ETag") and body == original):
        why = f"answered {status}" if status != 200 else "sent the original file: ?w= is ignored"
        log(f"d: sized variants not available ({why})")
        report.add(Row("d1", "cached ?w=320 variant vs original file", f"not available: the server {why}",
                       "-", "-", None))
        report.add(Row("d2", "cold vs cached ?w=320 of a 3000x2000 JPEG", "not available", "-", "-", None))
        return
    log(f"d1: cached ?w=320 variant ({len(body):,} bytes) vs original ({len(original):,} bytes)")
    result = compare(wrk, side(app, variant_path, "variant"), side(app, original_path, "original"),
                     plan.rounds, plan.seconds, plan.warmup)
    # "Within 1.2x" of the original's time: at least 1/1.2 of its requests per second.
    report.add(comparison_row("d1", "cached ?w=320 variant vs original file", result, 1 / 1.2,
                              target="<= 1.2x time (>= 0.83x req/s)"))

    cold, cached = [], []
    for camera in data.cold_variant_names:
        path = f"{API}/file/{camera}?w=320"
        elapsed, status, _, _ = timed_get(app.port, path)
        if status != 200:
            raise SystemExit(f"{path} answered {status}")
        cold.append(elapsed)
        cached += [timed_get(app.port, path)[0] for _ in range(10)]
    cold_ms, cached_ms = statistics.median(cold) * 1000, statistics.median(cached) * 1000
    report.add(Row(
        "d2", "cold vs cached ?w=320 of a 3000x2000 JPEG",
        f"cold {cold_ms:.0f} ms vs cached {cached_ms:.1f} ms (medians of {len(cold)} cold, {len(cached)} cached)",
        f"{cold_ms / cached_ms:.0f}x time", "-", None,
    ))


def measure_post_comments(report: Report, wrk: Wrk, plan: Plan, app: Server, data: seeding.Dataset) -> None:
    """(f) POST /images/{id}/comments from 8 concurrent clients."""
    # Not the image the reads use: their comment counts stay as seeded.
    image_id = data.small_ids[-1]
    path = f"{API}/images/{image_id}/comments"
    log("f: POST /images/{id}/comments, 8 clients")
    wrk.run(app.url(path), plan.warmup, POST_COMMENT_LUA, connections=8)
    result = wrk.run(app.url(path), plan.post_seconds, POST_COMMENT_LUA, connections=8)
    errors = ", ".join(f"{count} {kind}" for kind, count in result.errors.items())
    report.add(Row(
        "f", "POST /images/{id}/comments, 8 concurrent clients",
        f"{rps(result.rps)} req/s, p50 {result.p50_ms:.1f} ms", f"p99 {result.p99_ms:.1f} ms", "p99 < 50 ms",
        result.p99_ms < 50 and not result.errors, note=errors,
    ))


def measure_upload_memory(report: Report, run_dir: Path, data: seeding.Dataset) -> None:
    """(e) Peak RSS growth of the one worker while it takes a ~50 MB upload."""
    upload_file = run_dir / "upload-50mb.jpg"
    size = seeding.write_upload_file(upload_file)
    instance = run_dir / "upload-instance"
    settings = seeding.instance_settings(instance)
    _create_tables(settings)
    env = {"FALCON_IMG_INSTANCE_DIR": str(instance), "FALCON_IMG_MAX_UPLOAD_BYTES": str(64 * MIB),
           "FALCON_IMG_MAX_PIXELS": str(200_000_000)}
    log(f"e: peak RSS of the worker during a {size / 1e6:.1f} MB upload (1 sync worker)")
    with start_gunicorn("upload", run_dir, WorkerSettings(1), env) as server:
        server.wait_ready("/healthz")
        # A small upload first, so code and buffers every upload needs are in place.
        small = data.settings.resources_dir / "images" / data.small_blob_path
        status, body, _ = streaming_upload(server.port, f"{API}/images", small, "warm-up.jpg")
        if status != 201:
            raise SystemExit(f"the warm-up upload answered {status}: {body[:300]!r}")
        (pid,) = server.worker_pids()
        reset = reset_peak_memory(pid)
        before = process_memory(pid)
        status, body, seconds = streaming_upload(server.port, f"{API}/images", upload_file, "big.jpg")
        after = process_memory(pid)
    if status != 201:
        report.add(Row("e", "peak RSS growth of a worker during a 50 MB upload",
                       f"upload answered {status}: {body[:120]!r}", "-", "<= 10 MB", False))
        return
    baseline = before["VmRSS"] if reset else before["VmHWM"]
    growth = after["VmHWM"] - baseline
    report.add(Row(
        "e", f"peak RSS growth of a worker during a {size / 1e6:.0f} MB upload",
        f"RSS {before['VmRSS'] / 1e6:.1f} MB before, peak {after['VmHWM'] / 1e6:.1f} MB; "
        f"upload took {seconds:.1f} s",
        f"+{growth / 1e6:.1f} MB", "<= 10 MB", growth <= 10 * 1_000_000,
        note="" if reset else "peak could not be reset: growth measured from the earlier peak",
    ))


def _create_tables(settings) -> None:
    from falcon_img import db, models
    from falcon_img.app import open_services

    open_services(settings)
    with db.connection():
        models.create_tables()
    db.database.close_all()


def run_sweep(report: Report, wrk: Wrk, plan: Plan, run_dir: Path, data: seeding.Dataset) -> None:
    """Requests/s of two endpoints under each worker setting (one after another, so only a guide)."""
    env = {"FALCON_IMG_INSTANCE_DIR": str(data.settings.instance_dir)}
    item, file = f"{API}/images/{data.tested_image_id}", f"{API}/file/{data.small_names[2]}"
    for workers in SWEEP:
        log(f"sweep: {workers.label}")
        with start_gunicorn("sweep", run_dir, workers, env) as server:
            server.wait_ready("/healthz")
            results = []
            for path in (item, file):
                wrk.run(server.url(path), plan.warmup)
                runs = [wrk.run(server.url(path), plan.sweep_seconds) for _ in range(2)]
                results.append(statistics.median(run.rps for run in runs))
        report.sweep.append((workers.label, *results))


# -- the machine -------------------------------------------------------------------

def machine_facts(workers: WorkerSettings, connections: int) -> list[tuple[str, str]]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break

    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    def tool_version(command: list[str]) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=10)
        except OSError:
            return "not found"
        return (done.stdout + done.stderr).strip().splitlines()[0]

    return [
        ("date", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("cores (nproc)", str(len(os.sched_getaffinity(0)))),
        ("CPU", cpu),
        ("load average at start", " ".join(f"{value:.2f}" for value in os.getloadavg())),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
        ("packages", ", ".join(f"{name} {version(name)}" for name in PACKAGES)),
        ("wrk", tool_version(["wrk", "--version"])),
        ("nginx", tool_version([shutil.which("nginx") or "/usr/sbin/nginx", "-v"])),
        ("app and floor", f"gunicorn -c gunicorn.conf.py, {workers.label} (WEB_CONCURRENCY={workers.workers}, "
                          f"GUNICORN_THREADS={workers.threads}); access log on, as configured"),
        ("nginx settings", "2 worker processes, sendfile on, keep-alive, access log on"),
        ("load", f"wrk -t1 -c{connections} (keep-alive), on the same machine"),
    ]


def write_results(facts, report: Report, plan_name: str, data: seeding.Dataset, depth: seeding.DepthTable | None,
                  total_seconds: float) -> str:
    depth_line = f"depth table {depth.rows:,} rows" if depth else "no depth table"
    seeding_seconds = data.seconds + (depth.seconds if depth else 0)
    lines = [f"# falcon-img benchmark results ({plan_name} run)", ""]
    lines += [f"- {name}: {value}" for name, value in facts]
    lines += [
        f"- data: {len(data.small_names):,} JPEGs of ~{statistics.median(data.small_sizes) / 1000:.0f} KB, one of "
        f"{data.large_size / MIB:.1f} MiB, {len(data.cold_variant_names)} of 3000x2000, {data.comments:,} comments; "
        f"{depth_line} (seeding took {seeding_seconds:.0f} s)",
        f"- load average at end: {' '.join(f'{value:.2f}' for value in os.getloadavg())}; "
        f"run took {total_seconds / 60:.1f} min",
        "",
        report.table(),
        "",
    ]
    if report.sweep:
        lines += ["Worker settings sweep (endpoints measured one after another: a guide, not a ratio):", "",
                  report.sweep_table(), ""]
    text = "\n".join(lines)
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(text)
    return text


# -- main --------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small data, short rounds: for trying changes")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS.workers, help="WEB_CONCURRENCY")
    parser.add_argument("--threads", type=int, default=DEFAULT_WORKERS.threads, help="GUNICORN_THREADS (>1: gthread)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections for the ratio runs")
    parser.add_argument("--sweep", action=argparse.BooleanOptionalAction, default=None,
                        help="also try several worker settings (default: on in a full run)")
    parser.add_argument("--only", default="", help="comma-separated parts to run, of: a,b,c,d,e,f (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (data, logs) after the run")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    missing = require_tools()
    if missing:
        what = " and ".join(missing) + (" are" if len(missing) > 1 else " is")
        print(f"bench/run.py needs wrk and nginx; {what} not installed.\n"
              f"On Debian or Ubuntu: {INSTALL_HINT}", file=sys.stderr)
        return 2
    plan = QUICK_PLAN if args.quick else FULL_PLAN
    parts = set(args.only.split(",")) if args.only else set("abcdef")
    sweep = args.sweep if args.sweep is not None else not args.quick
    workers = WorkerSettings(args.workers, args.threads)
    started = time.monotonic()
    run_dir = Path(tempfile.mkdtemp(prefix="falcon-img-bench-"))
    facts = machine_facts(workers, args.connections)
    for name, value in facts:
        log(f"{name}: {value}")
    if os.getloadavg()[0] > len(os.sched_getaffinity(0)):
        log("warning: the machine is busy (load average above the core count): figures will be noisy")
    report = Report()
    wrk = Wrk(run_dir, threads=1, connections=args.connections)
    try:
        log(f"seeding in {run_dir}")
        data = seeding.seed(run_dir / "instance", plan.size, log=log)
        depth = None
        if "c" in parts:
            depth = seeding.build_depth_table(data, run_dir / "depth-instance", plan.size.depth_rows, log=log)
        log(f"seeded in {data.seconds + (depth.seconds if depth else 0):.0f} s")

        app_env = {"FALCON_IMG_INSTANCE_DIR": str(data.settings.instance_dir)}
        with start_gunicorn("app", run_dir, workers, app_env) as app, \
                start_nginx(run_dir, data.storage_root, workers=2) as nginx:
            app.wait_ready("/healthz")
            nginx.wait_ready("/")
            with start_floor(run_dir, workers, app, data) as floor:
                if "a" in parts:
                    measure_files(report, wrk, plan, app, nginx, floor, data)
                if "b" in parts:
                    measure_json(report, wrk, plan, app, floor, data)
                    measure_access_log(report, wrk, plan, floor, run_dir, workers, data)
            if "d" in parts:
                measure_variants(report, wrk, plan, app, data)
            if "f" in parts:
                measure_post_comments(report, wrk, plan, app, data)
        if "c" in parts:
            measure_depth(report, wrk, plan, run_dir, depth, workers)
        if "e" in parts:
            measure_upload_memory(report, run_dir, data)
        if sweep:
            run_sweep(report, wrk, plan, run_dir, data)
        text = write_results(facts, report, "quick" if args.quick else "full", data, depth,
                             time.monotonic() - started)
    finally:
        if args.keep:
            log(f"kept {run_dir}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
    print("\n" + text)
    print(f"written to {RESULTS_FILE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
