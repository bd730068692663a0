"""Hypothesis throws arbitrary JSON at the routes: never a 500, always a JSON error or a reply."""

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.service.helpers import client_for, make_engine

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "prompt": JSON,
        "num_samples": JSON,
        "seed": JSON,
        "images": JSON,
        "policy": JSON,
        "tenant": JSON,
        "timeout_s": JSON,
        "strength": JSON,
        "steps": JSON,
        "texts": JSON,
        "direction": JSON,
    },
)


def test_routes_never_answer_500(screener):
    async def run(bodies):
        client = await client_for(make_engine(screener))
        statuses = []
        for path, body in bodies:
            reply = await client.post(path, json=body)
            assert reply.headers["Content-Type"].startswith("application/json")
            await reply.json()
            statuses.append(reply.status)
        await client.close()
        return statuses

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["/v1/generate/gan", "/v1/generate/vae", "/v1/moderate"]),
                FIELDS | JSON,
            ),
            min_size=1,
            max_size=4,
        )
    )
    def check(bodies):
        statuses = asyncio.run(run(bodies))
        assert all(s in (200, 400, 404, 413, 429) for s in statuses), statuses

    check()
