"""What the blocking facade's hop costs: S4's creates (N ConfigMaps, C in flight) from
``SyncClient`` on threads beside the async client, in client CPU and context switches
per create, and the API server's and etcd's CPU beside it (S4's question, asked
in CPU: on the shared two cores the wall is noisy, and the client's CPU is taken
from the API server's).

One api-only testenv; every sample is a fresh process creating N ConfigMaps in a
fresh namespace: ``async`` (C tasks on one loop, as S4's async runner), ``sync``
(a ``ThreadPoolExecutor`` of C threads mapping ``SyncClient.create``, as S4's sync
runner), ``client-go`` (its S4 runner, the whole process), ``threads`` (C plain threads taking the next index, no pool: what the
pool itself costs), or ``sync@FILE`` / ``threads@FILE`` (the same with the hand-off of FILE, an earlier
``_loop_thread.py``, in place of the installed one).  Modes alternate, reversed
every other round; medians printed.

Run: .venv/bin/python bench/sync_hop.py [--creates N] [--rounds R] [--modes a,b]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
from pathlib import Path
from typing import Any

from harness import dataset
from harness.child import run_child

from kubeops.testenv import Environment

HERE = Path(__file__).parent

CHILD = r"""
import asyncio, importlib.util, json, resource, sys, time
from concurrent.futures import ThreadPoolExecutor
mode, kubeconfig, namespace, creates, concurrency = sys.argv[1:6]
creates, concurrency = int(creates), int(concurrency)
from kubeops.config import load_config

def body(i):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"hop-{i}"},
            "data": {"payload": "x" * 1024}}

import gc
THREADS = {}
GC = [0.0, 0, 0.0]  # collections' CPU s, collections, when the current one started

def _collecting(phase, info):
    if phase == "start":
        GC[2] = time.thread_time()
    else:
        GC[0] += time.thread_time() - GC[2]
        GC[1] += 1

gc.callbacks.append(_collecting)

def threads_cpu():
    # run time (schedstat, s) of the loop thread, the callers and the main thread
    import threading
    kinds = {"loop": 0.0, "callers": 0.0, "main": 0.0}
    for t in threading.enumerate():
        try:
            with open(f"/proc/self/task/{t.native_id}/schedstat") as f:
                ran = int(f.read().split()[0]) / 1e9
        except OSError:
            continue
        kind = ("loop" if t.name.startswith("kubeops") else
                "main" if t is threading.main_thread() else "callers")
        kinds[kind] += ran
        if kind == "loop":
            with open(f"/proc/self/task/{t.native_id}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
            kinds["loop_vcsw"] = int(status["voluntary_ctxt_switches"])
    return kinds

def usage():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return (time.perf_counter(), r.ru_utime + r.ru_stime, r.ru_utime, r.ru_nvcsw, r.ru_nivcsw,
            GC[0], GC[1])

async def run_async():
    from kubeops.api import Client
    async with Client(load_config(kubeconfig), qps=-1) as client:
        gate = asyncio.Semaphore(concurrency)
        async def make(i):
            async with gate:
                await client.create(body(i), namespace)
        before = usage()
        await asyncio.gather(*(make(i) for i in range(creates)))
        return before, usage()

def run_sync():
    if "@" in mode:
        from kubeops.api import sync
        spec = importlib.util.spec_from_file_location("hop_variant", mode.split("@", 1)[1])
        variant = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(variant)
        sync.LoopThread = variant.LoopThread
    from kubeops.api import SyncClient
    with SyncClient(load_config(kubeconfig), qps=-1) as client:
        def create(i):
            client.create(body(i), namespace)
        if mode.startswith("threads"):  # no pool: each thread takes the next index itself
            import itertools, threading
            counter, spent = itertools.count(), []
            def worker():
                while (i := next(counter)) < creates:
                    create(i)
                spent.append(time.thread_time())
            threads = [threading.Thread(target=worker) for _ in range(concurrency)]
            before = usage()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            after = usage()
            THREADS.update(threads_cpu(), callers=sum(spent))
            return before, after
        with ThreadPoolExecutor(concurrency) as pool:
            before = usage()
            done = sum(1 for _ in pool.map(create, range(creates)))
            after = usage()
            split = threads_cpu()
        assert done == creates
        THREADS.update(split)
        return before, after

before, after = asyncio.run(run_async()) if mode == "async" else run_sync()
d = [b - a for a, b in zip(before, after)]
print(json.dumps({"wall": d[0], "cpu": d[1], "user": d[2], "vcsw": d[3], "ivcsw": d[4],
                  "gc": d[5], "collections": d[6], "threads": THREADS}))
"""


def _client_go(kubeconfig: Path, ns: str, creates: int, concurrency: int) -> str:
    """client-go's S4 runner, its whole process measured (start-up included: ~1 %)."""
    from harness.clients import go_binary

    params: dict[str, Any] = {"kubeconfig": str(kubeconfig), "namespace": ns}
    params.update(size=creates, concurrency=concurrency)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [str(go_binary("clientgo")), "S4", json.dumps(params)],
        capture_output=True,
        text=True,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    final = json.loads(out.stdout.strip().splitlines()[-1])
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return json.dumps(
        {
            "wall": final["seconds"],
            "cpu": cpu,
            "user": after.ru_utime - before.ru_utime,
            "vcsw": after.ru_nvcsw - before.ru_nvcsw,
            "ivcsw": after.ru_nivcsw - before.ru_nivcsw,
            "gc": 0.0,
            "collections": 0,
            "threads": {},
        }
    )


def _sample(mode: str, kubeconfig: Path, ns: str, creates: int, concurrency: int) -> str:
    if mode == "client-go":
        return _client_go(kubeconfig, ns, creates, concurrency)
    return run_child(CHILD, [mode, str(kubeconfig), ns, str(creates), str(concurrency)])


def _cpu_of(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes ``pids`` have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _split(result: dict[str, Any], creates: int) -> str:
    threads = result["threads"]
    if not threads:
        return ""
    return (
        f"; loop thread {threads['loop'] / creates * 1e6:.0f} us,"
        f" callers {threads['callers'] / creates * 1e6:.0f} us;"
        f" loop thread vcsw {threads.get('loop_vcsw', 0) / creates:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--modes", default="async,sync")
    args = parser.parse_args()
    modes = args.modes.split(",")
    columns = ("wall", "cpu", "user", "vcsw", "ivcsw", "gc", "collections", "server")
    samples: dict[str, dict[str, list[float]]] = {m: {c: [] for c in columns} for m in modes}
    with Environment(api_only=True) as env:
        kubeconfig = env.cluster().kubeconfig
        for round_ in range(args.rounds):
            for index, mode in enumerate(modes if round_ % 2 == 0 else list(reversed(modes))):
                ns = f"hop-{round_}-{index}"
                asyncio.run(dataset.fresh_namespace(kubeconfig, ns))
                server = _cpu_of(env.pids())
                line = _sample(mode, kubeconfig, ns, args.creates, args.concurrency)
                result = json.loads(line.strip().splitlines()[-1])
                # the API server's and etcd's CPU for the whole sample (start-up included)
                result["server"] = _cpu_of(env.pids()) - server
                for column in columns:
                    samples[mode][column].append(result[column])
                per = {c: result[c] / args.creates for c in columns}
                print(
                    f"round {round_} {mode}: {args.creates / result['wall']:6.0f}/s"
                    f" cpu {per['cpu'] * 1e6:4.0f} us (collector {per['gc'] * 1e6:3.0f}),"
                    f" server {per['server'] * 1e6:4.0f} us,"
                    f" vcsw {per['vcsw']:.2f} per create{_split(result, args.creates)}"
                    f" (load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
    for mode, values in samples.items():
        med = {c: statistics.median(values[c]) / args.creates for c in columns}
        print(
            f"{mode:24s} {1 / med['wall']:6.0f} creates/s; per create: CPU"
            f" {med['cpu'] * 1e6:4.0f} us (user {med['user'] * 1e6:4.0f},"
            f" collector {med['gc'] * 1e6:3.0f} in {med['collections'] * 1000:.0f} per 1,000),"
            f" {med['vcsw']:.2f} voluntary + {med['ivcsw']:.2f} involuntary switches;"
            f" API server + etcd {med['server'] * 1e6:4.0f} us"
        )


if __name__ == "__main__":
    main()
