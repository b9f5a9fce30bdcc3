"""CPU used by each part of the stack while a benchmark runs (issue 15's "where does the
machine's CPU go"): every 2 seconds, the cores used since the last sample by the checkout's
gunicorn, the ceiling's gunicorn, PostgreSQL, Redis, wrk, pytest and everything else, read
from /proc (Linux). Run it beside `bash scripts/bench` and divide by the requests per second
of the phase:

    .venv/bin/python bench/cpu_by_process.py > /tmp/cpu.log &   # stop it with kill %1
"""
import collections
import os
import time


def group(cmd: str) -> str:
    if "gunicorn" in cmd:
        return "gunicorn-ceiling" if "ceiling" in cmd else "gunicorn-app"
    for name in ("postgres", "redis", "pytest"):
        if name in cmd:
            return name
    return "wrk" if cmd.startswith("wrk") else "other"


def ticks(group_of=group) -> collections.Counter:
    """CPU ticks (user + system) used so far by each group of processes (`group_of(cmdline)`)."""
    used = collections.Counter()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone since listdir
        used[group_of(cmd)] += int(fields[11]) + int(fields[12])  # utime + stime
    return used


def main():
    hz = os.sysconf("SC_CLK_TCK")
    before, since = ticks(), time.time()
    while True:
        time.sleep(2)
        now_ticks, now = ticks(), time.time()
        cores = {k: round((now_ticks[k] - before[k]) / hz / (now - since), 2)
                 for k in now_ticks if now_ticks[k] > before[k]}
        print(time.strftime("%H:%M:%S"), cores, flush=True)
        before, since = now_ticks, now


if __name__ == "__main__":
    main()
