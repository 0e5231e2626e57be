"""CPU time of an informer's first sync against the Python list+watch floor (S2's question,
asked in CPU time: wall time on the shared machine was too noisy to compare).

One api-only testenv with N ConfigMaps; every sample is a fresh process that times
(``time.process_time``) only the fill: the floor (aiohttp + orjson: one list, a dict
by key, the watch opened), or kubeops' informer until ``wait_for_sync`` with
list+watch or the streaming watch-list.  Modes alternate, reversed every other round.
``--profile MODE`` prints a cProfile of one more fill of that mode instead.

Run: .venv/bin/python bench/fill_cpu.py [--count N] [--rounds R] [--modes a,b] [--profile MODE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from pathlib import Path

from harness import dataset
from harness.child import run_child

from kubeops.testenv import Environment

HERE = Path(__file__).parent
MODES = ("floor", "list+watch", "watch-list", "list+watch/gc", "watch-list/gc")
# "/gc": the collector not paused during the fill (as before issue 16's leftovers)

CHILD = r"""
import asyncio, json, sys, time
sys.path.insert(0, {runners!r})
mode, kubeconfig, namespace, profile, store = sys.argv[1:6]

async def floor():
    import floor_python as f
    from _protocol import Params
    p = Params(kubeconfig=kubeconfig, namespace=namespace)
    async with f._session(p) as session:
        t, w = time.process_time(), time.perf_counter()
        cache, task = await f._list_and_watch(session, f._configmaps(p))
        used, wall = time.process_time() - t, time.perf_counter() - w
        task.cancel()
        return used, wall, len(cache)

async def informer():
    from kubeops.api import Client
    from kubeops.cache import SharedInformer
    from kubeops.config import load_config
    if mode.endswith("/gc"):
        from kubeops.cache import gc_pause
        gc_pause._acquire = gc_pause._release = lambda: None
    async with Client(load_config(kubeconfig), qps=-1) as client:
        informer = SharedInformer(client, "configmaps", namespace=namespace,
                                  use_watch_list=mode.startswith("watch-list"), store=store)
        t, w = time.process_time(), time.perf_counter()
        informer.start()
        await informer.wait_for_sync()
        used, wall = time.process_time() - t, time.perf_counter() - w
        count = len(informer.store)
        await informer.stop()
        return used, wall, count

run = floor if mode == "floor" else informer
if profile == "1":
    import cProfile, pstats
    prof = cProfile.Profile()
    prof.enable()
    used, wall, count = asyncio.run(run())
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(35)
else:
    used, wall, count = asyncio.run(run())
print(json.dumps({{"cpu": used, "wall": wall, "count": count}}))
"""


def _sample(mode: str, kubeconfig: Path, ns: str, store: str, profile: bool = False) -> str:
    code = CHILD.format(runners=str(HERE / "runners"))
    return run_child(code, [mode, str(kubeconfig), ns, "1" if profile else "0", store])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--store", default="dict", choices=("dict", "compact"))
    parser.add_argument("--profile", choices=MODES)
    args = parser.parse_args()
    modes = args.modes.split(",")
    with Environment(api_only=True) as env:
        kubeconfig = env.cluster().kubeconfig
        asyncio.run(dataset.configmaps(kubeconfig, "fill", args.count, "cm-"))
        if args.profile:
            print(_sample(args.profile, kubeconfig, "fill", args.store, profile=True))
            return
        samples: dict[str, list[float]] = {mode: [] for mode in modes}
        walls: dict[str, list[float]] = {mode: [] for mode in modes}
        for round_ in range(args.rounds):
            for mode in modes if round_ % 2 == 0 else list(reversed(modes)):
                line = _sample(mode, kubeconfig, "fill", args.store).strip().splitlines()[-1]
                result = json.loads(line)
                assert result["count"] == args.count, result
                samples[mode].append(result["cpu"] * 1000)
                walls[mode].append(result["wall"] * 1000)
        for mode, values in samples.items():
            print(
                f"{mode:14s} CPU ms median {statistics.median(values):5.0f}"
                f" (min {min(values):4.0f}, max {max(values):4.0f});"
                f" wall ms median {statistics.median(walls[mode]):5.0f}"
            )


if __name__ == "__main__":
    main()
