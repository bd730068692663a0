"""Service benchmark: one run, side by side, printed as a table with ratios.

    .venv/bin/python bench/service.py [--clients 32] [--requests 4] [--preset small]
                                      [--text-clients 8] [--bursts 3] [--no-breakdown]

Starts `genbot serve` on loopback (untrained models of the preset: compute is what matters),
first with batching off (max batch size 1), then on, and measures from a client process:
(a) one request at a time, (b) N concurrent clients with batching off, (c) the same clients with
batching on — throughput, p50/p95 latency and mean batch size for the GAN (/imagine: 4 images a
request). Then `--bursts` overload bursts of 4x the queue capacity: every excess request must
be answered 429 quickly (p99 target < 50 ms) and none may hang past its deadline. Then text
(/write with the packaged SmolLM2): tokens/s of `--text-clients` concurrent clients with text
batching off and on (continuous; target >= 2.5x). Last, in this process, where a GAN request's
time goes at batch 1 and 32 (embedding, forward, the rest): the bound on what batching can gain.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from generators.service.serve import BATCHING
from generators.train import FIXED_PROMPTS

REPO = Path(__file__).resolve().parent.parent
PROMPTS = FIXED_PROMPTS[:8]
TEXT_TOKENS = 48


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """A `genbot serve` child process on loopback, ended by its PID when done."""

    def __init__(self, preset: str, batch: int, family: str = "gan") -> None:
        self.port = free_port()
        args = [sys.executable, "-m", "bot.cli", "serve", "--port", str(self.port)]
        args += ["--families", family, "--batch", f"{family}={batch}"]
        # The GAN: untrained weights of a preset (compute is what matters). Text: the packaged
        # /write default, SmolLM2-135M-Instruct.
        args += ["--random", preset] if family == "gan" else []
        env = {**os.environ, "GENBOT_LOG_LEVEL": "WARNING", "HF_HUB_OFFLINE": "1"}
        self.process = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.url = f"http://127.0.0.1:{self.port}"

    async def ready(self, session: aiohttp.ClientSession, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited: {self.process.stderr.read().decode()[-500:]}")
            try:
                async with session.get(f"{self.url}/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
        raise RuntimeError("service not ready in time")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def one(session, url, k, timeout_s=120) -> tuple[int, float]:
    body = {
        "prompt": PROMPTS[k % len(PROMPTS)],
        "num_samples": 4,
        "seed": k,
        "timeout_s": timeout_s,
        "tenant": {"guild": "bench", "user": f"u{k % 997}"},
    }
    started = time.perf_counter()
    async with session.post(f"{url}/v1/generate/gan", json=body) as r:
        await r.read()
        return r.status, time.perf_counter() - started


async def one_text(session, url, k, timeout_s=300) -> tuple[int, float, int]:
    body = {
        "prompt": PROMPTS[k % len(PROMPTS)],
        "max_new_tokens": TEXT_TOKENS,
        "seed": k,
        "timeout_s": timeout_s,
        "tenant": {"guild": "bench", "user": f"u{k % 997}"},
    }
    started = time.perf_counter()
    async with session.post(f"{url}/v1/generate/text", json=body) as r:
        reply = await r.json()
    tokens = sum(o.get("tokens", 0) for o in reply.get("outputs", []))
    return r.status, time.perf_counter() - started, tokens


async def run_text(session, url, clients: int, per_client: int) -> dict:
    """Return tokens/s and latencies of `clients` concurrent /write-style clients."""

    async def worker(c):
        return [await one_text(session, url, c * per_client + k) for k in range(per_client)]

    started = time.perf_counter()
    results = [x for b in await asyncio.gather(*(worker(c) for c in range(clients))) for x in b]
    wall = time.perf_counter() - started
    latencies = sorted(t for s, t, _ in results if s == 200)
    return {
        "tokens_s": sum(n for s, _, n in results if s == 200) / wall,
        "p50": statistics.median(latencies),
        "p95": latencies[int(0.95 * (len(latencies) - 1))],
        "errors": len(results) - len(latencies),
    }


async def run_clients(session, url, clients: int, per_client: int) -> dict:
    async def worker(c):
        return [await one(session, url, c * per_client + k) for k in range(per_client)]

    started = time.perf_counter()
    results = [
        x for batch in await asyncio.gather(*(worker(c) for c in range(clients))) for x in batch
    ]
    wall = time.perf_counter() - started
    latencies = sorted(t for s, t in results if s == 200)
    return {
        "ok": len(latencies),
        "errors": len(results) - len(latencies),
        "rps": len(latencies) / wall,
        "p50": statistics.median(latencies),
        "p95": latencies[int(0.95 * (len(latencies) - 1))],
    }


async def queue_depth(session, url, family: str = "gan") -> int:
    async with session.get(f"{url}/v1/models") as r:
        return (await r.json())["models"][family]["queue_depth"]


async def mean_batch(session, url, family: str = "gan") -> float:
    async with session.get(f"{url}/metrics") as r:
        text = await r.text()
    sums = re.search(rf'genbot_batch_size_sum\{{family="{family}"\}} ([\d.e+]+)', text)
    counts = re.search(rf'genbot_batch_size_count\{{family="{family}"\}} ([\d.e+]+)', text)
    return float(sums.group(1)) / max(float(counts.group(1)), 1)


def service_rss_mb(pid: int) -> tuple[float, float]:
    """Return a process's resident memory now and at its peak, in MB (Linux /proc)."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return tuple(int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM"))


def raw_request(k: int, timeout_s: int) -> bytes:
    body = json.dumps(
        {
            "prompt": PROMPTS[k % len(PROMPTS)],
            "num_samples": 4,
            "seed": k,
            "timeout_s": timeout_s,
            "tenant": {"guild": "bench", "user": f"burst{k}"},
        }
    ).encode()
    head = (
        "POST /v1/generate/gan HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def overload(port: int, pid: int, capacity: int, timeout_s: int = 30) -> dict:
    """A burst of 4x the queue capacity on connections opened beforehand (as the bot's pooled
    session keeps them): every request's bytes are written at once, and each is timed from its
    write to its status line. An aiohttp client cannot measure this on 2 cores: its own cost
    of creating 4x-capacity requests, one after another, lands in every request's time."""
    burst = 4 * capacity
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(burst)]
    requests = [raw_request(k, timeout_s) for k in range(burst)]
    rss_before = service_rss_mb(pid)[0]

    async def one_raw(k: int) -> tuple[int, float, float]:
        reader, writer = connections[k]
        started = time.perf_counter()
        writer.write(requests[k])
        status_line = await reader.readline()
        answered = time.perf_counter() - started
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        writer.close()
        return int(status_line.split()[1]), answered, time.perf_counter() - started

    results = await asyncio.gather(*(one_raw(k) for k in range(burst)))
    refused = sorted(t for s, t, _ in results if s == 429)
    rss_after, rss_peak = service_rss_mb(pid)
    return {
        "sent": burst,
        "capacity": capacity,
        "429": len(refused),
        "200": sum(s == 200 for s, _, _ in results),
        "other": sum(s not in (200, 429) for s, _, _ in results),
        "p50_429_ms": 1000 * statistics.median(refused) if refused else float("nan"),
        "p99_429_ms": 1000 * refused[int(0.99 * (len(refused) - 1))] if refused else float("nan"),
        "slowest_s": max(t for _, _, t in results),
        "deadline_s": timeout_s,
        "rss_mb": (rss_before, rss_after, rss_peak),
    }


def gan_breakdown(preset: str, sizes: tuple[int, ...] = (1, 32), rounds: int = 3) -> dict:
    """Return, per batch size, the milliseconds per request of the GAN path's parts, measured
    in this process on the service's own engine (one torch thread, as `serve` sets it): the
    prompt embedding, the GAN's forward, and the whole `gan_batch` (the rest being screening,
    watermarks, PNGs, hashes). What batching can gain is bounded by the parts that shrink."""
    from bot.settings import ServiceSettings
    from generators.service import serve

    settings = ServiceSettings.from_env({**os.environ, "GENBOT_TORCH_THREADS": "auto"})
    engine = serve.build_engine(settings, {"gan": f"random:{preset}"}, "cpu", False)
    engine.warm_up()
    return {n: _gan_parts(engine, n, rounds) for n in sizes}


def _gan_parts(engine, n: int, rounds: int) -> dict[str, float]:
    """Return ms per request of the embedding, the forward and the whole path for n requests."""
    import numpy as np
    import torch

    from generators.models import gan
    from generators.schema import ImageRequest
    from generators.service.engine import Job
    from moderation.policy import policy_for

    prompts = [PROMPTS[k % len(PROMPTS)] for k in range(n)]
    jobs = [Job(ImageRequest(p, 4, k), policy_for()) for k, p in enumerate(prompts)]
    embedded = torch.as_tensor(np.asarray(engine.embed(prompts), np.float32))
    model = engine.models["gan"].model

    def forward():
        rngs = [torch.Generator().manual_seed(k) for k in range(n)]
        return gan.generate_batch(model, embedded, [4] * n, rngs)

    def per_request(fn) -> float:
        fn()  # warm
        started = time.perf_counter()
        for _ in range(rounds):
            fn()
        return 1000 * (time.perf_counter() - started) / rounds / n

    return {
        "embed": per_request(lambda: engine.embed(prompts)),
        "forward": per_request(forward),
        "whole": per_request(lambda: engine.gan_batch(jobs)),
    }


async def main_async(args) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=300)
    rows = {}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for label, batch in (("batching off", 1), ("batching on", 32)):
            service = Service(args.preset, batch)
            try:
                await service.ready(session)
                await run_clients(session, service.url, 4, 2)  # warm-up
                if batch == 1:
                    rows["(a) one at a time"] = {
                        **await run_clients(session, service.url, 1, args.sequential),
                        "batch": 1.0,
                    }
                before = await mean_batch(session, service.url)
                result = await run_clients(session, service.url, args.clients, args.requests)
                result["batch"] = await mean_batch(session, service.url) if batch > 1 else 1.0
                rows[f"({'b' if batch == 1 else 'c'}) {args.clients} clients, {label}"] = result
                del before
                if batch > 1:
                    capacity = BATCHING["gan"]["max_queue"]
                    bursts = []
                    for _ in range(args.bursts):
                        bursts.append(await overload(service.port, service.process.pid, capacity))
                        while await queue_depth(session, service.url):  # drained: next burst
                            await asyncio.sleep(0.5)
                    rows["overload"] = bursts
            finally:
                service.stop()
        if args.text_clients:
            rows["text"] = await text_rows(session, args)
    # The client's own memory, before the breakdown loads models into this process.
    rows["client_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.breakdown:
        rows["breakdown"] = gan_breakdown(args.preset)
    report(rows, args)


async def text_rows(session, args) -> dict:
    """Return /write-style tokens/s with batching off and on, same clients, same prompts."""
    out = {}
    for label, batch in (("off", 1), ("on", args.text_clients)):
        service = Service(args.preset, batch, family="text")
        try:
            await service.ready(session)
            await run_text(session, service.url, 2, 1)  # warm-up
            result = await run_text(session, service.url, args.text_clients, 2)
            result["batch"] = await mean_batch(session, service.url, "text")
            out[label] = result
        finally:
            service.stop()
    return out


def report(rows: dict, args) -> None:
    """Print the side-by-side table and the ratios against the targets."""
    print(
        f"GAN /imagine (4 images a request), preset {args.preset} (random weights), "
        f"CPU threads {os.cpu_count()}"
    )
    print(f"{'mode':<36}{'req/s':>8}{'img/s':>8}{'p50 s':>8}{'p95 s':>8}{'batch':>7}{'errors':>7}")
    for name, r in rows.items():
        if name in ("overload", "text", "breakdown", "client_rss_mb"):
            continue
        cells = f"{r['rps']:>8.2f}{4 * r['rps']:>8.1f}{r['p50']:>8.2f}{r['p95']:>8.2f}"
        print(f"{name:<36}{cells}{r['batch']:>7.1f}{r['errors']:>7}")
    b = rows[f"(b) {args.clients} clients, batching off"]
    c = rows[f"(c) {args.clients} clients, batching on"]
    ratio = c["rps"] / b["rps"]
    print(
        f"batching on / off at {args.clients} clients: {ratio:.1f}x throughput (target >= 4x), "
        f"p95 {c['p95']:.2f} s vs {b['p95']:.2f} s (target: no worse)"
    )
    if "breakdown" in rows:
        print("\nwhere a GAN request's time goes, in-process, ms per request (batch of 1 vs 32):")
        parts = ("embed", "forward", "whole")
        print(f"  {'batch':>5}" + "".join(f"{p:>10}" for p in parts) + f"{'the rest':>10}")
        for n, t in rows["breakdown"].items():
            rest = t["whole"] - t["embed"] - t["forward"]
            print(f"  {n:>5}" + "".join(f"{t[p]:>10.1f}" for p in parts) + f"{rest:>10.1f}")
        one, many = rows["breakdown"][1], rows["breakdown"][32]
        ratio = one["whole"] / many["whole"]
        print(f"  a batch of 32 serves {ratio:.2f}x the requests a second of one at a time")
    if "text" in rows:
        off, on = rows["text"]["off"], rows["text"]["on"]
        print(
            f"\ntext /write (SmolLM2-135M-Instruct, {TEXT_TOKENS} new tokens a request), "
            f"{args.text_clients} concurrent clients"
        )
        for name, r in (("batching off", off), ("batching on", on)):
            print(
                f"  {name:<14}{r['tokens_s']:>8.1f} tokens/s  p50 {r['p50']:.1f} s  "
                f"p95 {r['p95']:.1f} s  mean batch {r['batch']:.1f}  errors {r['errors']}"
            )
        ratio = on["tokens_s"] / off["tokens_s"]
        print(f"  batching on / off: {ratio:.2f}x tokens/s (target >= 2.5x)")
    bursts = rows["overload"]
    rss = rows["client_rss_mb"]
    o = bursts[0]
    print(
        f"\noverload: {len(bursts)} bursts of {o['sent']} requests at once (4x the GAN queue of "
        f"{o['capacity']}), each request timed from its write on an open connection:"
    )
    for k, o in enumerate(bursts, 1):
        before, after, peak = o["rss_mb"]
        print(
            f"  burst {k}: {o['429']} answered 429, p50 {o['p50_429_ms']:.0f} ms, p99 "
            f"{o['p99_429_ms']:.0f} ms (target < 50 ms); {o['200']} served, {o['other']} other; "
            f"slowest reply {o['slowest_s']:.1f} s (deadline {o['deadline_s']} s); service RSS "
            f"{before:.0f} MB before, {after:.0f} after, peak {peak:.0f}"
        )
    print(f"  bench client max RSS {rss:.0f} MB")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=4, help="requests per client")
    parser.add_argument("--sequential", type=int, default=16, help="requests in mode (a)")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--text-clients", type=int, default=8, help="0 skips the text rows")
    parser.add_argument("--bursts", type=int, default=3, help="overload bursts, one after another")
    parser.add_argument(
        "--no-breakdown",
        dest="breakdown",
        action="store_false",
        help="skip the in-process timing of a GAN request's parts",
    )
    asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
