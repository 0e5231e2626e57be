"""Which Kafka client kubeops.bus builds on: aiokafka against confluent-kafka, measured
side by side against one real broker in one run.

Contenders, each run in a fresh process (so RSS and import time are its own):

* ``aiokafka``: asyncio-native (what kubeops.bus uses).
* ``confluent-kafka``: librdkafka behind a C extension, driven as its own docs show
  (``produce`` + ``poll`` in the calling thread, ``consume`` in batches).
* ``confluent-asyncio``: the same library inside an asyncio program, as kubeops would
  have to drive it: ``produce`` from the event loop, a thread polling for delivery
  reports that resolves asyncio futures, ``consume`` in the loop's executor.

Every contender produces with the same settings: idempotent, acks=all, linger 5 ms for
throughput and 0 for latency, 1 KiB CloudEvents-shaped JSON keyed over 100 keys to a
topic of 3 partitions.  Measured: produce throughput (all acknowledged), produce latency
at a fixed rate (open loop: from each message's scheduled time to its acknowledgement),
consume throughput in a group with a synchronous commit after every batch, the
process's RSS at the end and its peak, and the import time.  Contenders alternate
order between repetitions; medians are reported.

    .venv/bin/python bench/bus_choice.py                     # a broker of its own (testenv)
    .venv/bin/python bench/bus_choice.py --bootstrap 127.0.0.1:9092 --reps 3

confluent-kafka is not a dependency of kubeops; the bench environment holds it
(``pip install confluent-kafka==2.16.1`` into the venv that runs this).
"""

# ruff: noqa: RUF001 -- the table prints multiplication signs on purpose
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

CONTENDERS = ("aiokafka", "confluent-kafka", "confluent-asyncio")
KEYS = 100
PARTITIONS = 3
BATCH = 500  # records a consume call returns at most, then one commit


def message(i: int) -> tuple[bytes, bytes]:
    """Message ``i``: a key among KEYS and a CloudEvents envelope of ~1 KiB."""
    name = f"app-{i % KEYS}"
    event = {
        "specversion": "1.0",
        "id": f"{uuid.UUID(int=i)}",
        "source": "kubeops://bench",
        "type": "io.kubeops.resource.modified",
        "time": "2026-12-05T10:00:00Z",
        "subject": f"ConfigMap/bench/{name}",
        "datacontenttype": "application/json",
        "kubeopssource": "resource",
        "kubeopsname": "modified",
        "data": {
            "object": {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": name,
                    "namespace": "bench",
                    "resourceVersion": str(100000 + i),
                    "labels": {"app": name, "tier": "backend"},
                },
                "data": {"seq": str(i), "pad": ""},
            }
        },
    }
    body = json.dumps(event, separators=(",", ":"))
    pad = "x" * max(0, 1024 - len(body))
    event["data"]["object"]["data"]["pad"] = pad  # type: ignore[index]
    return f"bench/bench/ConfigMap/{name}".encode(), json.dumps(
        event, separators=(",", ":")
    ).encode()


def _memory() -> tuple[int, int]:
    rss = peak = 0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
    return rss, peak


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]

    return {"p50_ms": at(50) * 1e3, "p99_ms": at(99) * 1e3, "max_ms": ordered[-1] * 1e3}


# -- aiokafka ---------------------------------------------------------------------------------


async def _aiokafka(
    bootstrap: str, topic: str, n: int, rate: float, seconds: float
) -> dict[str, Any]:
    import asyncio

    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    messages = [message(i) for i in range(n)]
    out: dict[str, Any] = {}

    def producer(linger: int) -> Any:
        return AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            enable_idempotence=True,
            acks="all",
            linger_ms=linger,
        )

    p = producer(5)
    await p.start()
    try:
        await asyncio.gather(*[await p.send(topic, v, key=k) for k, v in messages[:200]])
        start = time.perf_counter()
        futures = [await p.send(topic, v, key=k) for k, v in messages]
        await asyncio.gather(*futures)
        out["produce_per_s"] = n / (time.perf_counter() - start)
    finally:
        await p.stop()

    p = producer(0)
    await p.start()
    try:
        await asyncio.gather(*[await p.send(topic, v, key=k) for k, v in messages[:200]])
        lags: list[float] = []
        count = int(rate * seconds)
        loop = asyncio.get_running_loop()
        begin = loop.time() + 0.05
        pending = []
        for i in range(count):
            at = begin + i / rate
            delay = at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            k, v = messages[i % n]
            future = await p.send(topic, v, key=k)
            future.add_done_callback(lambda _f, at=at: lags.append(loop.time() - at))
            pending.append(future)
        await asyncio.gather(*pending)
        out["latency"] = _percentiles(lags)
    finally:
        await p.stop()

    total = n + 400 + int(rate * seconds)
    c = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{topic}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    joined = time.perf_counter()
    await c.start()
    try:
        seen = 0
        first = 0.0
        while seen < total:
            batches = await c.getmany(timeout_ms=1000, max_records=min(BATCH, total - seen))
            got = sum(len(records) for records in batches.values())
            if got and not first:
                first = time.perf_counter()
                out["consume_first_s"] = first - joined
            for records in batches.values():
                for record in records:
                    json.loads(record.value)  # what a consumer does with each
            seen += got
            if got:
                await c.commit()
        out["consume_per_s"] = (seen - 0) / (time.perf_counter() - first)
        out["consumed"] = seen
    finally:
        await c.stop()
    return out


# -- confluent-kafka --------------------------------------------------------------------------


def _producer_config(bootstrap: str, linger: int) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": linger,
    }


def _consumer_config(bootstrap: str, topic: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "group.id": f"bench-{topic}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    }


def _produce_all(p: Any, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    for k, v in messages:
        while True:
            try:
                p.produce(topic, v, k)
                break
            except BufferError:
                p.poll(0.01)
        p.poll(0)
    p.flush()


def _confluent(bootstrap: str, topic: str, n: int, rate: float, seconds: float) -> dict[str, Any]:
    from confluent_kafka import Consumer, Producer

    messages = [message(i) for i in range(n)]
    out: dict[str, Any] = {}
    p = Producer(_producer_config(bootstrap, 5))
    _produce_all(p, topic, messages[:200])
    start = time.perf_counter()
    _produce_all(p, topic, messages)
    out["produce_per_s"] = n / (time.perf_counter() - start)

    p = Producer(_producer_config(bootstrap, 0))
    _produce_all(p, topic, messages[:200])
    lags: list[float] = []
    count = int(rate * seconds)
    begin = time.monotonic() + 0.05
    for i in range(count):
        at = begin + i / rate
        while (delay := at - time.monotonic()) > 0:
            p.poll(delay)  # serves delivery reports while waiting
        k, v = messages[i % n]
        p.produce(topic, v, k, on_delivery=lambda _e, _m, at=at: lags.append(time.monotonic() - at))
        p.poll(0)
    p.flush()
    out["latency"] = _percentiles(lags)

    total = n + 400 + count
    c = Consumer(_consumer_config(bootstrap, topic))
    joined = time.perf_counter()
    c.subscribe([topic])
    seen = 0
    first = 0.0
    while seen < total:
        records = c.consume(min(BATCH, total - seen), 1.0)
        if records and not first:
            first = time.perf_counter()
            out["consume_first_s"] = first - joined
        for record in records:
            if record.error() is None:
                json.loads(record.value())
        seen += len(records)
        if records:
            c.commit(asynchronous=False)
    out["consume_per_s"] = seen / (time.perf_counter() - first)
    out["consumed"] = seen
    c.close()
    return out


async def _confluent_asyncio(
    bootstrap: str, topic: str, n: int, rate: float, seconds: float
) -> dict[str, Any]:
    """confluent-kafka in an event loop: a poll thread resolves the loop's futures."""
    import asyncio

    from confluent_kafka import Consumer, Producer

    loop = asyncio.get_running_loop()
    messages = [message(i) for i in range(n)]
    out: dict[str, Any] = {}

    class AsyncProducer:
        def __init__(self, linger: int) -> None:
            self.p = Producer(_producer_config(bootstrap, linger))
            self.stopped = False
            self.thread = threading.Thread(target=self._poll, daemon=True)
            self.thread.start()

        def _poll(self) -> None:
            while not self.stopped:
                self.p.poll(0.05)

        async def send(self, k: bytes, v: bytes) -> asyncio.Future[None]:
            future: asyncio.Future[None] = loop.create_future()

            def done(err: Any, _msg: Any) -> None:
                if err is None:
                    loop.call_soon_threadsafe(future.set_result, None)
                else:
                    loop.call_soon_threadsafe(future.set_exception, RuntimeError(str(err)))

            while True:
                try:
                    self.p.produce(topic, v, k, on_delivery=done)
                    return future
                except BufferError:
                    await asyncio.sleep(0.01)

        def close(self) -> None:
            self.stopped = True
            self.thread.join()
            self.p.flush()

    p = AsyncProducer(5)
    await asyncio.gather(*[await p.send(k, v) for k, v in messages[:200]])
    start = time.perf_counter()
    futures = [await p.send(k, v) for k, v in messages]
    await asyncio.gather(*futures)
    out["produce_per_s"] = n / (time.perf_counter() - start)
    p.close()

    p = AsyncProducer(0)
    await asyncio.gather(*[await p.send(k, v) for k, v in messages[:200]])
    lags: list[float] = []
    count = int(rate * seconds)
    begin = loop.time() + 0.05
    pending = []
    for i in range(count):
        at = begin + i / rate
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        k, v = messages[i % n]
        future = await p.send(k, v)
        future.add_done_callback(lambda _f, at=at: lags.append(loop.time() - at))
        pending.append(future)
    await asyncio.gather(*pending)
    out["latency"] = _percentiles(lags)
    p.close()

    total = n + 400 + count
    c = Consumer(_consumer_config(bootstrap, topic))
    joined = time.perf_counter()
    c.subscribe([topic])
    seen = 0
    first = 0.0
    while seen < total:
        records = await loop.run_in_executor(None, c.consume, min(BATCH, total - seen), 1.0)
        if records and not first:
            first = time.perf_counter()
            out["consume_first_s"] = first - joined
        for record in records:
            if record.error() is None:
                json.loads(record.value())
        seen += len(records)
        if records:
            await loop.run_in_executor(None, lambda: c.commit(asynchronous=False))
    out["consume_per_s"] = seen / (time.perf_counter() - first)
    out["consumed"] = seen
    await loop.run_in_executor(None, c.close)
    return out


# -- the parent -------------------------------------------------------------------------------


def child(
    name: str, bootstrap: str, topic: str, n: int, rate: float, seconds: float
) -> dict[str, Any]:
    """One contender's run, in a fresh process: the import first, then the workload."""
    import asyncio

    module = "aiokafka" if name == "aiokafka" else "confluent_kafka"
    start = time.perf_counter()
    __import__(module)
    imported = time.perf_counter() - start
    cpu = time.process_time()
    if name == "aiokafka":
        out = asyncio.run(_aiokafka(bootstrap, topic, n, rate, seconds))
    elif name == "confluent-kafka":
        out = _confluent(bootstrap, topic, n, rate, seconds)
    else:
        out = asyncio.run(_confluent_asyncio(bootstrap, topic, n, rate, seconds))
    rss, peak = _memory()
    return {
        **out,
        "contender": name,
        "import_ms": imported * 1e3,
        "cpu_s": time.process_time() - cpu,
        "rss_mib": rss / 2**20,
        "peak_rss_mib": peak / 2**20,
    }


def _create_topic(bootstrap: str, topic: str) -> None:
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
        finally:
            await admin.close()

    asyncio.run(create())


def _versions() -> dict[str, str]:
    from importlib import metadata

    import confluent_kafka

    return {
        "aiokafka": metadata.version("aiokafka"),
        "confluent-kafka": metadata.version("confluent-kafka"),
        "librdkafka": str(confluent_kafka.libversion()[0]),
    }


def _median(rows: list[dict[str, Any]], key: str, sub: str | None = None) -> float:
    values = [r[key][sub] if sub else r[key] for r in rows]
    return float(statistics.median(values))


def table(rows: list[dict[str, Any]]) -> list[str]:
    """The markdown table: medians per contender, and each against aiokafka."""
    by: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by.setdefault(row["contender"], []).append(row)
    columns = [
        ("produce msg/s", "produce_per_s", None, 0),
        ("produce p50 ms", "latency", "p50_ms", 2),
        ("produce p99 ms", "latency", "p99_ms", 2),
        ("consume msg/s", "consume_per_s", None, 0),
        ("CPU s", "cpu_s", None, 1),
        ("RSS MiB", "rss_mib", None, 0),
        ("peak RSS MiB", "peak_rss_mib", None, 0),
        ("import ms", "import_ms", None, 0),
    ]
    lines = [
        "| client | " + " | ".join(c[0] for c in columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    base = by.get("aiokafka")
    for name in CONTENDERS:
        if name not in by:
            continue
        cells = []
        for _, key, sub, digits in columns:
            value = _median(by[name], key, sub)
            cell = f"{value:,.{digits}f}"
            if base and name != "aiokafka":
                cell += f" ({value / _median(base, key, sub):.2f}×)"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _own_broker() -> tuple[Any, str]:
    """testenv's Kafka (its jars fetched on first use), tuned for throughput."""
    from kubeops.testenv.kafka import THROUGHPUT_JVM, Kafka

    kafka = Kafka(jvm_options=THROUGHPUT_JVM, progress=lambda line: print(line, file=sys.stderr))
    kafka.start()
    return kafka, kafka.bootstrap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", help="a running broker (default: start one, testenv's)")
    parser.add_argument("--messages", type=int, default=30_000, help="for the throughputs")
    parser.add_argument("--rate", type=float, default=500.0, help="messages/s for the latency")
    parser.add_argument("--seconds", type=float, default=10.0, help="at that rate")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--json", type=Path, help="also write every run here")
    parser.add_argument("--child", nargs=3, metavar=("CONTENDER", "BOOTSTRAP", "TOPIC"))
    args = parser.parse_args()
    if args.child:
        name, bootstrap, topic = args.child
        print(json.dumps(child(name, bootstrap, topic, args.messages, args.rate, args.seconds)))
        return
    broker = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        broker, bootstrap = _own_broker()
    names = args.contenders.split(",")
    rows: list[dict[str, Any]] = []
    try:
        for rep in range(args.reps):
            for name in names if rep % 2 == 0 else list(reversed(names)):
                topic = f"bus-choice-{name}-{uuid.uuid4().hex[:8]}"
                _create_topic(bootstrap, topic)
                done = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--child",
                        name,
                        bootstrap,
                        topic,
                        "--messages",
                        str(args.messages),
                        "--rate",
                        str(args.rate),
                        "--seconds",
                        str(args.seconds),
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=600,
                )
                if done.returncode != 0:
                    raise SystemExit(
                        f"bus_choice: {name}: exit {done.returncode}: {done.stderr[-800:]}"
                    )
                rows.append({**json.loads(done.stdout.splitlines()[-1]), "rep": rep})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    finally:
        if broker is not None:
            broker.close()
    load = os.getloadavg()[0]
    if args.json:
        args.json.write_text(json.dumps({"versions": _versions(), "runs": rows}, indent=1) + "\n")
    print(
        f"{args.messages:,} messages of ~1 KiB over {KEYS} keys, {PARTITIONS} partitions;"
        f" latency at {args.rate:g}/s for {args.seconds:g} s; {args.reps} runs each, medians;"
        f" load average {load:.2f} at the end; {_versions()}"
    )
    print("\n".join(table(rows)))


if __name__ == "__main__":
    main()
