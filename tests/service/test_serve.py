"""`genbot serve`: what it refuses before loading anything, and a real start on loopback."""

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.settings import ServiceSettings
from generators.service.serve import ServeError, build_parser, is_loopback, plan
from tests.conftest import REPO, clean_env


def planned(*argv, **env):
    return plan(build_parser().parse_args(list(argv)), ServiceSettings.from_env(env))


def test_loopback_names():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert (
        not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1") and not is_loopback("example")
    )


def test_refuses_a_public_address_without_a_token():
    with pytest.raises(ServeError, match="without GENBOT_SERVICE_TOKEN"):
        planned("--host", "0.0.0.0", "--tiny")
    assert planned("--host", "0.0.0.0", "--tiny", GENBOT_SERVICE_TOKEN="t")["host"] == "0.0.0.0"


def test_checkpoints_families_and_batch_sizes(tmp_path):
    with pytest.raises(ServeError, match="no gan checkpoint"):
        planned("--families", "gan", "--checkpoint", f"gan={tmp_path / 'none.pt'}")
    with pytest.raises(ServeError, match="unknown family"):
        planned("--families", "banjo", "--tiny")
    with pytest.raises(ServeError, match="--batch"):
        planned("--tiny", "--batch", "gan=zero")
    result = planned("--tiny", "--batch", "gan=1")
    assert result["sources"] == {"gan": "tiny", "vae": "tiny", "text": "tiny", "music": "tiny"}
    assert result["batching"]["gan"]["max_batch_size"] == 1
    assert planned("--random", "small", "--families", "gan")["sources"] == {"gan": "random:small"}
    assert planned("--families", "text")["sources"] == {"text": "smollm2-135m-instruct"}
    folder = planned("--families", "text", "--checkpoint", f"text={tmp_path}")["sources"]["text"]
    assert folder == tmp_path


def test_music_is_served_with_a_checkpoint_or_untrained_and_skipped_otherwise(tmp_path):
    from generators.service.engine import DEFAULT_CHECKPOINTS

    if DEFAULT_CHECKPOINTS["music"].is_file():
        assert planned()["sources"]["music"] == DEFAULT_CHECKPOINTS["music"]
    else:
        assert "music" not in planned()["sources"]  # no shipped music checkpoint: not an error
        with pytest.raises(ServeError, match="no music checkpoint"):
            planned("--families", "music")
    assert planned("--random", "small", "--families", "music")["sources"] == {
        "music": "random:small"
    }
    checkpoint = tmp_path / "music.pt"
    checkpoint.write_bytes(b"checked when it loads")
    result = planned("--families", "music", "--checkpoint", f"music={checkpoint}")
    assert result["sources"] == {"music": checkpoint} and result["batching"]["music"]


def test_serve_starts_answers_and_stops_on_sigterm(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "--tiny", "--port", str(port)],
        cwd=REPO,
        env=clean_env(GENBOT_HOME=str(tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as reply:
                    assert reply.status == 200
                    break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("service not ready in 60 s")
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"genbot service on http://127.0.0.1:{port}" in out
    assert Path(tmp_path).is_dir()


def test_torch_threads_leave_a_core_to_the_service():
    import os

    import torch

    from bot.settings import ServiceSettings, SettingsError
    from generators.service.serve import set_threads

    before = torch.get_num_threads()
    try:
        cores = len(os.sched_getaffinity(0))
        assert set_threads(0) == max(1, cores - 1) == torch.get_num_threads()
        assert set_threads(3) == 3 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    assert ServiceSettings.from_env({"GENBOT_TORCH_THREADS": "auto"}).torch_threads == 0
    assert ServiceSettings.from_env({"GENBOT_TORCH_THREADS": "2"}).torch_threads == 2
    with pytest.raises(SettingsError, match="GENBOT_TORCH_THREADS"):
        ServiceSettings.from_env({"GENBOT_TORCH_THREADS": "many"})


async def test_start_up_objects_are_frozen_out_of_garbage_collection():
    """After the warm-up the service freezes what is alive: a full collection then has none of
    the models' objects to scan (the pause it caused is measured by bench/service.py)."""
    import gc

    from generators.service.serve import freeze_heap

    ballast = [{"k": [k]} for k in range(10_000)]  # tracked objects, as loaded models are
    try:
        await freeze_heap(None)
        assert gc.get_freeze_count() >= len(ballast)
        scanned = {id(o) for o in gc.get_objects()}
        assert not any(id(item) in scanned for item in ballast)
    finally:
        gc.unfreeze()
    assert id(ballast[0]) in {id(o) for o in gc.get_objects()}
