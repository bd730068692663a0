"""`genbot serve`: load models, warm them up, and serve the API until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import ipaddress
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
# A queue holds about what is served within a few seconds (64 GAN requests: about 3 s on two CPU
# cores). A deeper one only hides waits: the bot keeps every job in its own durable queue and
# comes back after a 429's Retry-After.
BATCHING = {
    "gan": {"max_batch_size": 32, "max_wait_ms": 10, "max_queue": 64},
    "vae": {"max_batch_size": 8, "max_wait_ms": 10, "max_queue": 64},
    "text": {"max_batch_size": 8, "max_wait_ms": 10, "max_queue": 64},
    # Tunes are sampled one by one: a batch only saves queue hops, so keep it small.
    "music": {"max_batch_size": 4, "max_wait_ms": 10, "max_queue": 32},
}


class ServeError(RuntimeError):
    """The service cannot start; the message says why."""


def is_loopback(host: str) -> bool:
    """Return True for a loopback address or name."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of `genbot serve`."""
    p = argparse.ArgumentParser(prog="genbot serve")
    p.add_argument("--host", help="address to bind (default GENBOT_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default GENBOT_PORT, 8765)")
    p.add_argument("--families", help="comma-separated families (default: all with a checkpoint)")
    p.add_argument("--device", help="cpu, cuda, cuda:N (default GENBOT_DEVICE, auto)")
    p.add_argument("--checkpoint", action="append", default=[], metavar="FAMILY=PATH")
    p.add_argument(
        "--batch",
        action="append",
        default=[],
        metavar="FAMILY=SIZE",
        help="max batch size of a family (1 turns batching off)",
    )
    p.add_argument(
        "--random",
        metavar="PRESET",
        help="serve untrained models of this preset (benchmarks: compute is what matters)",
    )
    p.add_argument(
        "--tiny",
        action="store_true",
        help="untrained tiny models and hashed prompt embeddings: for trying the API",
    )
    return p


def plan(args: argparse.Namespace, settings: Any) -> dict[str, Any]:
    """Return what to load and where to bind, checked; raise ServeError when it cannot work."""
    from generators.models.text_lm import PACKAGED_NAME
    from generators.service.engine import DEFAULT_CHECKPOINTS

    host = args.host or settings.host
    if not is_loopback(host) and settings.service_token is None:
        raise ServeError(f"refusing to bind {host} without GENBOT_SERVICE_TOKEN: set a token first")
    sources: dict[str, Any] = {}
    for pair in args.checkpoint:
        name, sep, path = pair.partition("=")
        if not sep or name not in BATCHING:
            raise ServeError(
                f"--checkpoint {pair!r}: expected gan=PATH, vae=PATH, music=PATH or text=FOLDER"
            )
        sources[name] = Path(path)
    wanted = (args.families.split(",") if args.families else list(settings.families)) or list(
        BATCHING
    )
    for name in wanted:
        if name not in BATCHING:
            raise ServeError(f"unknown family {name!r}; this service serves {', '.join(BATCHING)}")
        if name == "text":
            # A local folder or hub id from --checkpoint, else the packaged SmolLM2 (or tiny).
            sources.setdefault("text", "tiny" if args.tiny else PACKAGED_NAME)
            continue
        if args.tiny or args.random:
            sources[name] = f"random:{args.random}" if args.random else "tiny"
        elif not Path(sources.get(name, DEFAULT_CHECKPOINTS[name])).is_file():
            if args.families:
                raise ServeError(
                    f"no {name} checkpoint at {sources.get(name, DEFAULT_CHECKPOINTS[name])}"
                )
            log.warning("no %s checkpoint: not serving it", name)
            continue
        sources.setdefault(name, DEFAULT_CHECKPOINTS[name])
    if not sources:
        raise ServeError("no model to serve: train one (genbot train gan) or use --tiny")
    batching = {name: dict(BATCHING[name]) for name in sources}
    for pair in args.batch:
        name, sep, size = pair.partition("=")
        if not sep or name not in batching or not size.isdigit() or int(size) < 1:
            raise ServeError(f"--batch {pair!r}: expected FAMILY=SIZE for a served family")
        batching[name]["max_batch_size"] = int(size)
    return {
        "host": host,
        "port": args.port or settings.port,
        "sources": sources,
        "device": args.device or settings.device,
        "batching": batching,
    }


def set_threads(wanted: int) -> int:
    """Set torch's CPU threads (0: one fewer than the cores this process may use, at least 1);
    return the count. The service's own threads — the event loop, moderation, the store of a
    local bot — need a core: with every core in torch's spinning workers, token-by-token
    decoding on a 2-core machine ran ten times slower than with one."""
    import os

    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = wanted or max(1, (cores or 1) - 1)
    torch.set_num_threads(threads)
    return threads


def build_engine(settings: Any, sources: dict[str, Any], device: str, tiny: bool):
    """Return a loaded, screened engine for the planned families."""
    from generators import image_api
    from generators.service.engine import Engine
    from generators.text_encoder import hashed_embeddings, shared_encoder
    from generators.train import resolve_device
    from moderation.memorisation import PrivateIndexError
    from moderation.stack import build_screener

    set_threads(settings.torch_threads)
    screener = build_screener(settings)
    embed = hashed_embeddings if tiny else shared_encoder().encode
    engine = Engine(resolve_device(device), screener, embed, home=settings.home)
    for name, source in sources.items():
        try:
            loaded = engine.load(name, source)
        except PrivateIndexError as exc:  # a fine-tuned model must not be served unguarded
            raise ServeError(str(exc)) from exc
        guard = " with its memorisation guard" if loaded.private is not None else ""
        log.info("loaded %s from %s in %.1f s%s", name, loaded.source, loaded.load_seconds, guard)
    if "vae" in engine.models:
        # Uploads are also judged by how unlike the training images they are.
        screener.images.out_of_distribution = image_api.out_of_distribution(
            engine.models["vae"].model
        )
    return engine


async def freeze_heap(app: Any) -> None:
    """Move everything alive after start-up out of the garbage collector's sight. The loaded
    models and libraries are some 440,000 objects, which every full collection scanned: a
    285 ms pause at random, which bench/service.py saw as 400 ms 429s in one burst of six.
    Frozen, a full collection takes under a millisecond; the frozen objects are still freed
    by reference counting."""
    import gc

    gc.collect()
    gc.freeze()
    log.info("froze %d start-up objects out of garbage collection", gc.get_freeze_count())


def main(argv: list[str], settings: Any) -> int:
    """Serve until interrupted."""
    from aiohttp import web

    from generators.service.app import create_app

    args = build_parser().parse_args(argv)
    planned = plan(args, settings)
    engine = build_engine(settings, planned["sources"], planned["device"], args.tiny)
    token = settings.service_token.reveal() if settings.service_token else None
    app = create_app(engine, planned["batching"], token=token)
    app.on_startup.append(freeze_heap)  # after the models' warm-up (create_app's cleanup_ctx)
    print(
        f"genbot service on http://{planned['host']}:{planned['port']} "
        f"({', '.join(planned['sources'])} on {engine.device})",
        flush=True,
    )
    web.run_app(
        app,
        host=planned["host"],
        port=planned["port"],
        print=None,
        handler_cancellation=True,
        access_log=None,
    )
    return 0
