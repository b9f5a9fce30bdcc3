"""What limits a successful checkout on this stack (issue 15): the ceiling, the stack's floor
and the checkout, steady, side by side, with the CPU each request costs in each process.

    .venv/bin/python bench/stack_floor.py [--seconds 10] [--rounds 2] [--workers 4] [--threads 8]

Seeds like bench/checkout_wrk.py, serves three gunicorns with the same settings:
- ceiling: bench/ceiling.py (one Redis INCR + one single-row PostgreSQL UPDATE transaction);
- floor: bench/floor.py, the real app with the buy view answering as a successful checkout
  does without doing one (every hook, the session, the member row, CSRF, the gate, ...);
- checkout: the real app (`wsgi:app`), a fresh key per request, stock ample;
and drives each in turn with wrk (64 connections, members in turn), `--rounds` times. During
each run it reads from /proc the CPU used by that gunicorn (master and workers), PostgreSQL,
Redis and wrk, and divides by the requests answered: milliseconds of CPU per request.

The last line is one JSON object: per target its requests/s, p50/p99 and CPU ms per request
by process (medians over the rounds), then `floor_ratio` (floor ÷ ceiling: the most any
checkout inside this Flask app could reach) and `checkout_ratio` (checkout ÷ ceiling, the
steady ratio of bench/checkout_wrk.py).
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import checkout_wrk as cw  # noqa: E402
from bench.cpu_by_process import ticks  # noqa: E402
from bench.flash_sale import free_port  # noqa: E402

TARGETS = (("ceiling", "bench.ceiling:app"), ("floor", "bench.floor:floor_app()"), ("checkout", "wsgi:app"))


def cpu_groups(cmd: str) -> str:
    """bench/cpu_by_process.py's groups, with each gunicorn told apart by its app."""
    if "gunicorn" in cmd:
        for name, path in TARGETS:
            if path in cmd:
                return name
    for name in ("postgres", "redis"):
        if name in cmd:
            return name
    return "wrk" if cmd.startswith("wrk") else "other"


def measured(script, url, *, connections, seconds, name):
    hz = os.sysconf("SC_CLK_TCK")
    before = ticks(cpu_groups)
    figures = cw.wrk(script, url, connections=connections, seconds=seconds)
    after = ticks(cpu_groups)
    answered = figures["ok"] or 1
    cpu = {group: round((after[group] - before[group]) / hz * 1000 / answered, 2)
           for group in (name, "postgres", "redis", "wrk")}
    cpu["machine"] = round(sum((after[g] - before[g]) for g in after) / hz * 1000 / answered, 2)
    return {"per_s": round(figures["ok"] / figures["duration_s"], 1), "p50_ms": figures["p50_ms"],
            "p99_ms": figures["p99_ms"], "other_statuses": figures["refused"] + figures["other"],
            "cpu_ms_per_request": cpu}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `sudo apt-get install wrk` (or run `bash scripts/bench` once)")

    _app, (item, plan), _sale, sessions, env = cw.prepared(args.members, 10)
    ports = {name: free_port() for name, _ in TARGETS}
    servers = [cw.serve(path, ports[name], env, args.workers, args.threads) for name, path in TARGETS]
    tmp = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    runs = {name: [] for name, _ in TARGETS}
    try:
        scripts = {}
        for name, _ in TARGETS:
            origin = f"http://127.0.0.1:{ports[name]}"
            scripts[name] = (cw.lua_script(tmp, name, mode="ceiling", path="/ceiling", origin=origin, sessions=[])
                             if name == "ceiling" else
                             cw.lua_script(tmp, name, mode="steady", path=f"/catalog/{item}/buy", origin=origin,
                                           sessions=sessions, plan=plan, run=name))
            cw.wrk(scripts[name], origin, connections=args.connections, seconds=3)  # warm-up, discarded
        for _ in range(args.rounds):
            for name, _ in TARGETS:
                runs[name].append(measured(scripts[name], f"http://127.0.0.1:{ports[name]}",
                                           connections=args.connections, seconds=args.seconds, name=name))
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    for name, figures in runs.items():
        for run in figures:
            print(f"{name:9} {json.dumps(run)}", file=sys.stderr)
    result = {name: median_run(figures) for name, figures in runs.items()}
    ceiling = result["ceiling"]["per_s"]
    result["floor_ratio"] = round(result["floor"]["per_s"] / ceiling, 3)
    result["checkout_ratio"] = round(result["checkout"]["per_s"] / ceiling, 3)
    print(json.dumps(result))


def median_run(runs: list) -> dict:
    """Medians over the rounds, key by key."""
    out = {k: round(statistics.median(r[k] for r in runs), 2) for k in ("per_s", "p50_ms", "p99_ms")}
    out["other_statuses"] = sum(r["other_statuses"] for r in runs)
    out["cpu_ms_per_request"] = {k: round(statistics.median(r["cpu_ms_per_request"][k] for r in runs), 2)
                                 for k in runs[0]["cpu_ms_per_request"]}
    return out


if __name__ == "__main__":
    main()
