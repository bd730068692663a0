"""The real service on loopback with tiny models: routes, auth, limits, screening, fairness."""

import asyncio
import base64
import io

import pytest
from PIL import Image

from generators.service.engine import Engine
from tests.moderation.test_images import bomb_png, picture, png_bytes
from tests.service.helpers import GatedEngine, client_for, make_engine


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_health_ready_models_openapi_metrics(screener):
    client = await client_for(make_engine(screener))
    assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
    assert (await (await client.get("/readyz")).json())["families"] == ["gan", "text", "vae"]
    models = await (await client.get("/v1/models")).json()
    assert set(models["models"]) == {"gan", "vae", "text"} and "lexical" in models["moderation"]
    spec = await (await client.get("/openapi.json")).json()
    assert "/v1/generate/{family}" in spec["paths"]
    await client.post("/v1/generate/gan", json={"prompt": "red heart"})
    text = await (await client.get("/metrics")).text()
    assert 'genbot_requests_total{family="gan",status="200"} 1.0' in text
    assert "genbot_batch_size_count" in text and "genbot_queue_depth" in text


async def test_generate_gan_returns_screened_pngs_with_provenance(screener):
    client = await client_for(make_engine(screener))
    reply = await client.post(
        "/v1/generate/gan",
        json={"prompt": "red heart", "seed": 3, "tenant": {"guild": "1", "user": "2"}},
    )
    assert reply.status == 200
    body = await reply.json()
    assert body["verdict"]["action"] == "allow" and set(body["timings"]) == {
        "queue_ms",
        "compute_ms",
    }
    roles = [o["role"] for o in body["outputs"]]
    assert roles == ["grid", "tile", "tile", "tile", "tile"]
    tile = Image.open(io.BytesIO(base64.b64decode(body["outputs"][1]["data"])))
    assert tile.text["ai_generated"] == "true" and tile.text["seed"] == "3"
    again = await (
        await client.post("/v1/generate/gan", json={"prompt": "red heart", "seed": 3})
    ).json()
    assert again["outputs"][1]["data"] == body["outputs"][1]["data"]  # same seed, same pixels


async def test_toxic_prompt_is_refused_server_side(screener):
    client = await client_for(make_engine(screener))
    body = await (
        await client.post("/v1/generate/gan", json={"prompt": "you fucking idiot"})
    ).json()
    assert body["outputs"] == [] and body["refused"] == "prompt"
    assert body["verdict"]["action"] == "block" and "refused" in body["why"]


async def test_moderate_keeps_order(screener):
    client = await client_for(make_engine(screener))
    body = await (
        await client.post(
            "/v1/moderate",
            json={"texts": ["a red heart", "kys", "mail a@b.com"], "direction": "prompt"},
        )
    ).json()
    assert [v["action"] for v in body["verdicts"]] == ["allow", "block", "flag"]


async def test_vae_variations_and_blend(screener):
    client = await client_for(make_engine(screener))
    one = await client.post(
        "/v1/generate/vae", json={"images": [b64(png_bytes(picture(1)))], "num_samples": 3}
    )
    assert one.status == 200 and len((await one.json())["outputs"]) == 4
    two = await client.post(
        "/v1/generate/vae",
        json={
            "images": [b64(png_bytes(picture(1))), b64(png_bytes(picture(2), "JPEG"))],
            "steps": 5,
        },
    )
    assert len((await two.json())["outputs"]) == 6


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/v1/generate/gan", {"prompt": ""}, 400, "prompt"),
        ("/v1/generate/gan", {"prompt": "a", "num_samples": 99}, 400, "num_samples"),
        ("/v1/generate/gan", {"prompt": "a", "policy": "wild"}, 400, "policy"),
        ("/v1/generate/gan", {"prompt": "a", "timeout_s": 0}, 400, "timeout_s"),
        ("/v1/generate/vae", {"images": ["%%%"]}, 400, "images"),
        ("/v1/generate/vae", {"images": [b64(b"not an image")]}, 400, "images"),
        ("/v1/generate/vae", {"images": [b64(bomb_png())]}, 400, "images"),
        ("/v1/generate/music", {"prompt": "a"}, 404, None),
        ("/v1/moderate", {"texts": "not a list"}, 400, "texts"),
        ("/v1/moderate", {"texts": ["a"], "direction": "sideways"}, 400, "direction"),
    ],
)
async def test_bad_requests_get_clear_errors(screener, path, body, status, field):
    client = await client_for(make_engine(screener))
    reply = await client.post(path, json=body)
    error = (await reply.json())["error"]
    assert reply.status == status and error.get("field") == field and error["reason"]


async def test_malformed_json_and_oversized_body(screener):
    client = await client_for(make_engine(screener), max_body_bytes=10_000)
    bad = await client.post(
        "/v1/moderate", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert bad.status == 400
    big = await client.post("/v1/moderate", json={"texts": ["x" * 20_000]})
    assert big.status == 413 and "limit" in (await big.json())["error"]["reason"]


async def test_bearer_token_guards_v1(screener):
    client = await client_for(make_engine(screener), token="s3cret")
    assert (await client.get("/v1/models")).status == 401
    wrong = await client.get("/v1/models", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 401
    right = await client.get("/v1/models", headers={"Authorization": "Bearer s3cret"})
    assert right.status == 200 and (await client.get("/healthz")).status == 200


async def test_full_queue_answers_429_and_deadline_504(screener):
    engine = make_engine(screener, GatedEngine)
    engine.gate.set()
    families = {"gan": {"max_batch_size": 1, "max_wait_ms": 1, "max_queue": 2}}
    client = await client_for(engine, families)
    engine.gate.clear()
    held = [
        asyncio.create_task(
            client.post("/v1/generate/gan", json={"prompt": f"p{k}", "timeout_s": 1})
        )
        for k in range(3)
    ]
    await asyncio.sleep(0.3)  # one computing (gated), two queued: the queue is full
    refused = await client.post("/v1/generate/gan", json={"prompt": "one more"})
    assert refused.status == 429 and int(refused.headers["Retry-After"]) >= 1
    # A full queue refuses before the body is read: even an unparsable one gets the 429.
    unread = await client.post("/v1/generate/gan", data=b"{not json")
    assert unread.status == 429 and "queue is full" in (await unread.json())["error"]["reason"]
    statuses = sorted(r.status for r in await asyncio.gather(*held))
    engine.gate.set()
    assert 504 in statuses  # the queued ones outlived their 1 s deadline


async def test_a_burst_from_one_tenant_does_not_starve_another(screener):
    engine = make_engine(screener, GatedEngine)
    engine.gate.set()
    families = {"gan": {"max_batch_size": 4, "max_wait_ms": 1, "max_queue": 64}}
    client = await client_for(engine, families)
    engine.gate.clear()

    def post(prompt, user):
        body = {"prompt": prompt, "num_samples": 1, "tenant": {"guild": "g", "user": user}}
        return asyncio.create_task(client.post("/v1/generate/gan", json=body))

    burst = [post(f"alice {k}", "alice") for k in range(24)]
    await asyncio.sleep(0.2)
    bob = post("bob", "bob")
    await asyncio.sleep(0.2)
    engine.gate.set()
    await asyncio.gather(bob, *burst)
    batch_with_bob = next(i for i, b in enumerate(engine.order) if "bob" in b)
    assert batch_with_bob <= 2  # at most one batch ahead of the one being computed


async def test_generate_text_with_stated_clamping(screener):
    client = await client_for(make_engine(screener))
    body = {"prompt": "once upon a time", "max_new_tokens": 999, "temperature": 50, "seed": 4}
    reply = await (await client.post("/v1/generate/text", json=body)).json()
    (output,) = reply["outputs"]
    assert output["mime"] == "text/plain" and output["seed"] == 4 and output["tokens"] >= 1
    assert any("clamped" in n for n in reply["notes"]) and reply["verdict"]["action"] == "allow"


class ToxicWriter(Engine):
    """An engine whose text model always writes an insult (the screen must withhold it)."""

    def decode(self, joining, leaving):  # every row finishes in the step it joins
        from generators.models.text_lm import TextResult

        return [
            (key, TextResult("you are a fucking idiot", 6, "eos", request.seed))
            for key, request in joining
        ]


async def test_a_blocked_text_output_is_withheld(screener):
    client = await client_for(make_engine(screener, ToxicWriter))
    reply = await (
        await client.post("/v1/generate/text", json={"prompt": "say something nice"})
    ).json()
    assert reply["outputs"] == [] and reply["verdict"]["action"] == "block"
    assert "refused" in reply["withheld"]["why"]


async def test_guild_rules_and_denylist_travel_with_the_request(screener):
    from moderation.scorers.images import perceptual_hash

    client = await client_for(make_engine(screener))
    rules = [{"label": "spam", "pattern": "pineapple pizza", "score": 1.0}]
    verdicts = (
        await (
            await client.post(
                "/v1/moderate", json={"texts": ["I love pineapple pizza"], "rules": rules}
            )
        ).json()
    )["verdicts"]
    assert verdicts[0]["action"] == "block"
    refused = await (
        await client.post("/v1/generate/gan", json={"prompt": "pineapple pizza", "rules": rules})
    ).json()
    assert refused["refused"] == "prompt"
    banned = picture(9)
    upload = await client.post(
        "/v1/generate/vae",
        json={"images": [b64(png_bytes(banned))], "denylist": [perceptual_hash(banned)]},
    )
    assert (await upload.json())["refused"] == "upload"
    bad = await client.post(
        "/v1/moderate", json={"texts": ["a"], "rules": [{"pattern": "(a+)+$", "kind": "regex"}]}
    )
    assert bad.status == 400 and (await bad.json())["error"]["field"] == "rules"
    bad = await client.post("/v1/moderate", json={"texts": ["a"], "denylist": ["zz"]})
    assert bad.status == 400
