"""Service benchmark: one run, side by side, printed as a table with ratios.

    .venv/bin/python bench/service.py [--clients 32] [--requests 4] [--preset small]
                                      [--text-clients 8]

Starts `genbot serve` on loopback (untrained models of the preset: compute is what matters),
first with batching off (max batch size 1), then on, and measures from a client process:
(a) one request at a time, (b) N concurrent clients with batching off, (c) the same clients with
batching on — throughput, p50/p95 latency and mean batch size for the GAN (/imagine: 4 images a
request). Then an overload burst of 4x the queue capacity: every excess request must be
answered 429 quickly (p99 target < 50 ms) and none may hang past its deadline. Last, text
(/write with the packaged SmolLM2): tokens/s of `--text-clients` concurrent clients with text
batching off and on (target >= 2.5x).
"""

from __future__ import annotations

import argparse
import asyncio
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


async def mean_batch(session, url, family: str = "gan") -> float:
    async with session.get(f"{url}/metrics") as r:
        text = await r.text()
    sums = re.search(rf'genbot_batch_size_sum\{{family="{family}"\}} ([\d.e+]+)', text)
    counts = re.search(rf'genbot_batch_size_count\{{family="{family}"\}} ([\d.e+]+)', text)
    return float(sums.group(1)) / max(float(counts.group(1)), 1)


async def overload(session, url, capacity: int) -> dict:
    burst = 4 * capacity
    results = await asyncio.gather(*(one(session, url, k, timeout_s=30) for k in range(burst)))
    refused = sorted(t for s, t in results if s == 429)
    return {
        "sent": burst,
        "429": len(refused),
        "200": sum(s == 200 for s, _ in results),
        "other": sum(s not in (200, 429) for s, _ in results),
        "p99_429_ms": 1000 * refused[int(0.99 * (len(refused) - 1))] if refused else float("nan"),
        "slowest_s": max(t for _, t in results),
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
                    rows["overload"] = await overload(session, service.url, 256)
            finally:
                service.stop()
        if args.text_clients:
            rows["text"] = await text_rows(session, args)
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
        if name in ("overload", "text"):
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
    o = rows["overload"]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"overload: {o['sent']} at once against a queue of 256: {o['429']} answered 429 "
        f"(p99 {o['p99_429_ms']:.0f} ms, target < 50 ms), {o['200']} served, {o['other']} other; "
        f"slowest reply {o['slowest_s']:.1f} s; bench client max RSS {rss:.0f} MB"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=4, help="requests per client")
    parser.add_argument("--sequential", type=int, default=16, help="requests in mode (a)")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--text-clients", type=int, default=8, help="0 skips the text rows")
    asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
