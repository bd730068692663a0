"""The one place in the service that touches torch: models on one device, run off the event loop.

Each family's batch function takes a list of parsed requests and returns one reply dict per
request, with every output already screened by the moderation layer: a blocked output is
dropped (the reply says why), never returned.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from generators.schema import ImageRequest, MusicRequest
from generators.service.replies import (
    decoded,
    image_outputs,
    refused,
    tune_outputs,
    worst,
)
from moderation.policy import Policy
from moderation.provenance import Marker
from moderation.screen import Screener
from moderation.verdict import Verdict

log = logging.getLogger(__name__)
# Tries of /compose before giving up: at the shipped model's 96% validity, 4 tries all fail
# about 3 times in a million.
MAX_TUNE_TRIES = 4
SHIPPED = Path(__file__).resolve().parent.parent.parent / "data" / "models"
DEFAULT_CHECKPOINTS = {
    "gan": SHIPPED / "gan-emoji" / "model.pt",
    "vae": SHIPPED / "vae-emoji" / "model.pt",
    "music": SHIPPED / "music-folk" / "model.pt",
}


@dataclass
class Job:
    """One parsed request as the batcher carries it."""

    request: Any
    policy: Policy
    images: list[bytes] = field(default_factory=list)
    rules: tuple = ()  # the guild's own moderation rules
    denylist: tuple[str, ...] = ()  # the guild's perceptual-hash image denylist
    enqueued: float = field(default_factory=time.monotonic)

    @property
    def screening(self) -> tuple:
        """Return what decides how this job is screened (jobs alike can share one call)."""
        return (self.policy, self.rules)


@dataclass
class Loaded:
    """A family's model and what it was loaded from."""

    model: Any
    source: str
    step: int
    load_seconds: float
    private: Any = None  # moderation.memorisation.PrivateIndex of a model fine-tuned on one


class Engine:
    """Loaded models + screener + one worker thread for model calls."""

    def __init__(
        self,
        device: str,
        screener: Screener,
        embed: Callable[[list[str]], np.ndarray],
        home: Path = Path("var"),
        marker: Marker | None = None,
    ) -> None:
        from data import install_secret

        self.device = device
        self.home = home
        self.screener = screener
        self.embed = embed
        # Every output's provenance marks are keyed by the install secret (see moderation/).
        self.marker = marker or Marker(install_secret.load(home))
        self.models: dict[str, Loaded] = {}
        # One thread: model calls run one at a time on the device, never on the event loop.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="genbot-engine")
        # Continuous text batching: the running decoding and, per row's key, its job, prompt
        # verdict and when it joined (text_step).
        self._decoding: Any = None
        self._rows: dict[int, tuple[Job, Verdict, float]] = {}

    def load(self, family: str, source: str | Path | None = None) -> Loaded:
        """Load a family from a checkpoint path, or `tiny` for a fresh tiny model (tests)."""
        import torch

        from data import checkpoints
        from generators.registry import family as family_module

        started = time.monotonic()
        if family == "text":
            return self._load_text(source, started)
        module, folder = family_module(family), None
        if source == "tiny" or str(source).startswith("random:"):
            preset = "tiny" if source == "tiny" else str(source).split(":", 1)[1]
            torch.manual_seed(0)
            config = module.PRESETS[preset]
            if family == "music":
                from generators import music_api

                config = music_api.untrained_config(config)
            model, step, where = module.build(config), 0, f"{preset} (random weights)"
            if family == "vae":
                size = config.image_size
                module.calibrate(model, torch.rand(32, 3, size, size) * 2 - 1)
        else:
            path = Path(source) if source else DEFAULT_CHECKPOINTS[family]
            blob = checkpoints.load(path, family=family)
            model = module.from_export(
                checkpoints.config_from(blob, module.Config), blob["state_dict"]
            )
            step, where, folder = blob["step"], str(path), path.parent
        loaded = Loaded(model.to(self.device).eval(), where, step, time.monotonic() - started)
        loaded.private = self._private_index(folder)
        self.models[family] = loaded
        return loaded

    def _private_index(self, folder: Path | None) -> Any:
        """Return the memorisation guard written beside a model (None when there is none)."""
        from moderation import memorisation

        if folder is None:
            return None
        if not memorisation.has_private_index(folder):
            # Fail closed: a model fine-tuned on community data is never served unguarded.
            if (folder / "FINETUNE.json").is_file():
                raise memorisation.PrivateIndexError(
                    f"{folder}: fine-tuned on community data but its private index is missing"
                )
            return None
        from data import install_secret

        return memorisation.load_private_index(folder, install_secret.load(self.home))

    def _recalled(self, family: str, outputs: list) -> list[list]:
        """Return per output the memorisation guard's evidence (none without a private index)."""
        private = self.models[family].private
        if private is None or not outputs:
            return []
        check = private.text_evidence if isinstance(outputs[0], str) else private.image_evidence
        return [check(output) for output in outputs]

    def _load_text(self, source: str | Path | None, started: float) -> Loaded:
        from generators.models import text_lm

        lm = text_lm.load(str(source or text_lm.PACKAGED_NAME), self.home, self.device)
        loaded = Loaded(lm, lm.name, 0, time.monotonic() - started)
        loaded.private = self._private_index(
            Path(source) if source and Path(source).is_dir() else None
        )
        self.models["text"] = loaded
        return loaded

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` on the engine thread."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def warm_up(self) -> None:
        """Run each loaded family once, so the first request does not pay for lazy init."""
        if "gan" in self.models:
            self.gan_batch([Job(ImageRequest("warm up", 1, 0), _any_policy())])
        if "music" in self.models:  # also imports music21 and warms its ABC parser
            self.music_batch([Job(MusicRequest("a jig", max_new_tokens=16), _any_policy())])
        self.screener.screen(["warm up"], "output", _any_policy())

    # --- families ------------------------------------------------------------------------

    def gan_batch(self, jobs: list[Job]) -> list[dict]:
        """Generate every job's images in one forward pass; screen prompts and outputs."""
        import torch

        from generators import image_api
        from generators.models import gan

        started = time.monotonic()
        prompts = self._screen_prompts(jobs)
        live = [k for k, v in enumerate(prompts) if v.action != "block"]
        replies: list[dict] = [refused(v) for v in prompts]
        if live:
            embeddings = torch.as_tensor(
                np.asarray(self.embed([jobs[k].request.prompt for k in live]), np.float32)
            )
            counts = [jobs[k].request.num_samples for k in live]
            rngs = [torch.Generator().manual_seed(jobs[k].request.seed) for k in live]
            images = gan.generate_batch(self.models["gan"].model, embeddings, counts, rngs)
            for k, tiles in zip(live, images, strict=True):
                replies[k] = self._image_reply(jobs[k], tiles, "gan", prompts[k], image_api)
        compute_ms = (time.monotonic() - started) * 1000
        return [{**r, "compute_ms": compute_ms} for r in replies]

    def _screen_prompts(self, jobs: list[Job]) -> list[Verdict]:
        # Server-side too: a client that skipped /v1/moderate still cannot get past it.
        return self._screen_texts(jobs, [j.request.prompt for j in jobs], "prompt")

    def _screen_texts(
        self, jobs: list[Job], texts: list[str], direction: str, extra: list | None = None
    ) -> list[Verdict]:
        first, extra = jobs[0], extra or [[] for _ in texts]
        if all(j.screening == first.screening for j in jobs):
            return self.screener.screen(texts, direction, first.policy, first.rules, extra)
        return [
            self.screener.screen([text], direction, job.policy, job.rules, [found])[0]
            for job, text, found in zip(jobs, texts, extra, strict=True)
        ]

    def text_step(self, joining: list[tuple[int, Job]], leaving: set[int]) -> list[tuple]:
        """One step of continuous text batching (Batcher.run_step): screen the joining jobs'
        prompts (a refused one is answered at once), add the rest to the running decoding,
        drop the rows whose callers left, decode one token for every row, and return the
        (key, reply) of the jobs that finished, their outputs screened."""
        now, answered = time.monotonic(), []
        try:
            prompts = self._screen_prompts([job for _, job in joining]) if joining else []
            live = []
            for (key, job), verdict in zip(joining, prompts, strict=True):
                if verdict.action == "block":
                    answered.append((key, {**refused(verdict), "compute_ms": 0.0}))
                else:
                    self._rows[key] = (job, verdict, now)
                    live.append((key, job.request))
            for key in leaving:
                self._rows.pop(key, None)
            finished = self.decode(live, leaving)
        except Exception:
            self._decoding, self._rows = None, {}  # a half-done step leaves no usable cache
            raise
        if finished:
            done = [self._rows.pop(key) for key, _ in finished]
            replies = self._text_replies(
                [job for job, _, _ in done],
                [verdict for _, verdict, _ in done],
                [result for _, result in finished],
            )
            for (key, _), (_, _, joined), reply in zip(finished, done, replies, strict=True):
                answered.append((key, {**reply, "compute_ms": (time.monotonic() - joined) * 1000}))
        return answered

    def decode(self, joining: list[tuple[int, Any]], leaving: set[int]) -> list[tuple[int, Any]]:
        """Return the (key, TextResult) of the rows that finish in one step of the running
        decoding, after the `joining` (key, TextRequest) rows join and the `leaving` ones go."""
        from generators.models.text_decoding import Decoding

        if self._decoding is None:
            self._decoding = Decoding(self.models["text"].model)
        self._decoding.drop(leaving)
        return self._decoding.join(joining) + self._decoding.step()

    def _text_replies(self, jobs: list[Job], prompts: list[Verdict], results: list) -> list[dict]:
        """Return the replies of written texts: memorisation guard and output screening."""
        if not results:
            return []
        texts = [r.text for r in results]
        recalled = self._recalled("text", texts)
        outputs = self._screen_texts(jobs, texts, "output", recalled)
        replies = []
        for prompt, result, verdict in zip(prompts, results, outputs, strict=True):
            reply = {
                "verdict": worst([prompt, verdict]).to_json(),
                "notes": result.notes,
                "model": {"family": "text", "source": self.models["text"].source},
            }
            if verdict.action == "block":
                reply.update(outputs=[], withheld={"count": 1, "why": verdict.explain(result.text)})
            else:
                reply["outputs"] = [
                    {
                        "mime": "text/plain",
                        "text": result.text,
                        "seed": result.seed,
                        "tokens": result.tokens,
                        "finish_reason": result.finish_reason,
                    }
                ]
            replies.append(reply)
        return replies

    def compose(self, requests: list[MusicRequest]) -> list:
        """Return the music model's Compositions for a batch of MusicRequests."""
        from generators import music_api

        return [music_api.compose(self.models["music"].model, r) for r in requests]

    def music_batch(self, jobs: list[Job]) -> list[dict]:
        """Compose every job's tune until music21 can play it (MAX_TUNE_TRIES at most, never
        an unplayable one); screen prompts and the tunes' words; answer with ABC text, MIDI,
        audio and a piano roll."""
        from generators import music_render

        started = time.monotonic()
        prompts = self._screen_prompts(jobs)
        live = [k for k, v in enumerate(prompts) if v.action != "block"]
        replies: list[dict] = [refused(v) for v in prompts]
        loaded = self.models["music"]
        name = f"music:{Path(loaded.source).parent.name or 'music'}"
        played = [self._playable(jobs[k].request, name) for k in live]
        tunes = [tune for tune, _, _ in played]
        words = [music_render.words(t.abc) for t in tunes]
        recalled = self._recalled("music", [t.abc for t in tunes]) if tunes else []
        done = [jobs[k] for k in live]
        verdicts = self._screen_texts(done, words, "output", recalled) if tunes else []
        for k, (tune, rendering, notes), said, verdict in zip(
            live, played, words, verdicts, strict=True
        ):
            header = {f: getattr(tune.header, f) for f in ("title", "rhythm", "meter", "key")}
            replies[k] = {
                "verdict": worst([prompts[k], verdict]).to_json(),
                "notes": [*tune.notes, *notes],
                "tune": {**header, "tempo": tune.header.tempo},
                "model": {"family": "music", "source": loaded.source, "step": loaded.step},
                "outputs": [],
            }
            if verdict.action == "block":
                replies[k].update(withheld={"count": 1, "why": verdict.explain(said)})
            elif rendering.midi is not None:
                replies[k]["outputs"] = tune_outputs(rendering, tune.seed)
                replies[k]["notes"] += rendering.notes
        compute_ms = (time.monotonic() - started) * 1000
        return [{**r, "compute_ms": compute_ms} for r in replies]

    def _playable(self, request: Any, name: str) -> tuple[Any, Any, list[str]]:
        """Return (tune, its rendering, notes): the first of the request's deterministic
        retries that music21 can play, or the last try (unplayable) with a note saying so."""
        from generators import music_api, music_render

        for attempt in range(MAX_TUNE_TRIES):
            seed = music_api.retry_seed(request.seed, attempt)
            tune = self.compose([dataclasses.replace(request, seed=seed)])[0]
            rendering = music_render.render(tune.abc, name, seed, marker=self.marker)
            if rendering.midi is not None:
                notes = (
                    []
                    if attempt == 0
                    else [
                        f"the model's first {attempt} tune(s) could not be played; "
                        f"this is try {attempt + 1} (seed {seed})"
                    ]
                )
                return tune, rendering, notes
        why = rendering.notes[0] if rendering.notes else "music21 could not read it"
        return (
            tune,
            rendering,
            [f"could not write a playable tune in {MAX_TUNE_TRIES} tries (last: {why})"],
        )

    def vae_batch(self, jobs: list[Job]) -> list[dict]:
        """Make each job's variations (one image) or blend (two images); screen everything."""
        import torch

        from generators import image_api
        from generators.models import vae

        started = time.monotonic()
        model = self.models["vae"].model
        replies = []
        for job in jobs:
            uploads = self.screener.screen_images(
                decoded(job.images), "prompt", job.policy, job.denylist
            )
            upload_verdict = worst(uploads)
            if upload_verdict.action == "block":
                replies.append(refused(upload_verdict, "upload"))
                continue
            size = model.config.image_size
            tensors = [image_api.image_tensor(data, size) for data in job.images]
            rng = torch.Generator().manual_seed(job.request.seed)
            if len(tensors) == 1:
                tiles = vae.variations(
                    model, tensors[0][None], job.request.num_samples, job.request.strength, rng
                )
            else:
                tiles = vae.blend(model, tensors[0], tensors[1], job.request.steps)
            replies.append(self._image_reply(job, tiles, "vae", upload_verdict, image_api))
        compute_ms = (time.monotonic() - started) * 1000
        return [{**r, "compute_ms": compute_ms} for r in replies]

    def _image_reply(self, job: Job, tiles: Any, family: str, before: Verdict, image_api) -> dict:
        from PIL import Image

        from generators.images import to_uint8

        pictures = [Image.fromarray(a) for a in to_uint8(tiles)]
        recalled = self._recalled(family, pictures)
        verdicts = self.screener.screen_images(
            pictures, "output", job.policy, job.denylist, recalled
        )
        kept = [k for k, v in enumerate(verdicts) if v.action != "block"]
        seed = job.request.seed
        name = f"{family}:{Path(self.models[family].source).parent.name or family}"
        packed = (
            image_api.pack(
                tiles[kept],
                2 if len(kept) == 4 else max(1, min(len(kept), 4)),
                name,
                seed,
                family,
                marker=self.marker,
            )
            if kept
            else None
        )
        outputs = image_outputs(packed, kept, seed) if packed is not None else []
        verdict = worst([before, *verdicts])
        reply = {
            "outputs": outputs,
            "verdict": verdict.to_json(),
            "model": {
                "family": family,
                "source": self.models[family].source,
                "step": self.models[family].step,
            },
        }
        if len(kept) < len(verdicts):
            reply["withheld"] = {"count": len(verdicts) - len(kept), "why": verdict.explain()}
        return reply


def _any_policy() -> Policy:
    from moderation.policy import policy_for

    return policy_for()
