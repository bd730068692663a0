"""The service's OpenAPI 3.1 document (the fields every client and test relies on)."""

from __future__ import annotations

from generators.music_header import METERS

_TENANT = {
    "type": "object",
    "properties": {"guild": {"type": "string"}, "user": {"type": "string"}},
}
_POLICY = {"oneOf": [{"type": "string", "enum": ["kids", "pg13", "adult"]}, {"type": "object"}]}
_RULES = {
    "type": "array",
    "maxItems": 500,
    "description": "the guild's own rules",
    "items": {
        "type": "object",
        "required": ["pattern"],
        "properties": {
            "label": {"type": "string"},
            "pattern": {"type": "string", "maxLength": 300},
            "kind": {"type": "string", "enum": ["keyword", "regex", "allow"]},
            "score": {"type": "number", "minimum": 0, "maximum": 1},
        },
    },
}
_DENYLIST = {"type": "array", "items": {"type": "string", "pattern": "^[0-9a-f]{16}$"}}
_ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "status": {"type": "integer"},
                "reason": {"type": "string"},
                "field": {"type": "string"},
            },
        }
    },
}
_VERDICT = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ["allow", "flag", "block"]},
        "reasons": {"type": "array", "items": {"type": "object"}},
        "scores": {"type": "object"},
        "model_versions": {"type": "object"},
    },
}


def _errors(*codes: int) -> dict:
    return {
        str(c): {"description": "error", "content": {"application/json": {"schema": _ERROR}}}
        for c in codes
    }


# Each output's provenance mark id: `genbot verify` finds the job that made a file by it.
_MARK = {"type": "string", "description": "provenance mark id in the file (8 hex digits)"}
_OUTPUT_NOTE = (
    "gan/vae: image/png grid and tiles; text: text/plain in `text`; music: text/vnd.abc in "
    "`text`, then audio/midi, the audio (audio/ogg, or audio/wav without soundfile, with "
    "`seconds`) and an image/png piano roll; an unplayable tune is composed again (up to 4 "
    "tries, with a note), never returned"
)
_GENERATE_BODY = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "maxLength": 1000, "description": "gan, text, music"},
        "max_new_tokens": {
            "type": "integer",
            "minimum": 1,
            "description": "text, music; clamped to the cap (256 text, 1024 music)",
        },
        "temperature": {"type": "number", "description": "text, music; clamped to [0, 2]"},
        "top_k": {"type": "integer", "minimum": 0},
        "top_p": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "stop": {"type": "array", "items": {"type": "string"}, "maxItems": 4},
        "key": {
            "type": "string",
            "description": "music: overrides the prompt's key (D, Em, Bb, F#m, Ador, Gmix, ...)",
        },
        "meter": {
            "type": "string",
            "pattern": "^([0-9]{1,2}/(1|2|4|8|16)|C\\|?)$",
            "description": "music: overrides the prompt's meter",
        },
        "rhythm": {
            "type": "string",
            "enum": list(METERS),
            "description": "music: overrides the prompt's rhythm (and, unless set, its meter)",
        },
        "images": {
            "type": "array",
            "items": {"type": "string", "contentEncoding": "base64"},
            "description": "vae: one image (variations) or two (blend)",
        },
        "num_samples": {"type": "integer", "minimum": 1, "maximum": 16},
        "seed": {"type": "integer", "minimum": 0},
        "strength": {"type": "number", "minimum": 0, "maximum": 2},
        "steps": {"type": "integer", "minimum": 2, "maximum": 16},
        "timeout_s": {"type": "integer", "minimum": 1, "maximum": 600},
        "tenant": _TENANT,
        "policy": _POLICY,
        "rules": _RULES,
        "denylist": _DENYLIST,
    },
}

OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "genbot generation service", "version": "1"},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "paths": {
        "/healthz": {"get": {"responses": {"200": {"description": "alive"}}}},
        "/readyz": {"get": {"responses": {"200": {"description": "ready"}, **_errors(503)}}},
        "/metrics": {"get": {"responses": {"200": {"description": "Prometheus text"}}}},
        "/v1/models": {
            "get": {
                "security": [{"bearer": []}],
                "responses": {"200": {"description": "models"}, **_errors(401)},
            }
        },
        "/v1/moderate": {
            "post": {
                "security": [{"bearer": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["texts"],
                                "properties": {
                                    "texts": {
                                        "type": "array",
                                        "items": {"type": "string"},
                                        "maxItems": 256,
                                    },
                                    "images": {"type": "array", "items": {"type": "string"}},
                                    "direction": {"type": "string", "enum": ["prompt", "output"]},
                                    "policy": _POLICY,
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "one verdict per input, in order",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "verdicts": {"type": "array", "items": _VERDICT}
                                    },
                                }
                            }
                        },
                    },
                    **_errors(400, 401, 413),
                },
            }
        },
        "/v1/generate/{family}": {
            "post": {
                "security": [{"bearer": []}],
                "parameters": [
                    {
                        "name": "family",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["gan", "vae", "text", "music"]},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _GENERATE_BODY}},
                },
                "responses": {
                    "200": {
                        "description": "screened outputs",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "outputs": {
                                            "type": "array",
                                            "items": {
                                                "type": "object",
                                                "description": _OUTPUT_NOTE,
                                                "properties": {
                                                    "mime": {"type": "string"},
                                                    "data": {
                                                        "type": "string",
                                                        "contentEncoding": "base64",
                                                    },
                                                    "text": {"type": "string"},
                                                    "role": {"type": "string"},
                                                    "seed": {"type": "integer"},
                                                    "seconds": {"type": "number"},
                                                    "mark": _MARK,
                                                },
                                            },
                                        },
                                        "verdict": _VERDICT,
                                        "timings": {
                                            "type": "object",
                                            "properties": {
                                                "queue_ms": {"type": "number"},
                                                "compute_ms": {"type": "number"},
                                            },
                                        },
                                        "model": {"type": "object"},
                                        "notes": {"type": "array", "items": {"type": "string"}},
                                        "tune": {
                                            "type": "object",
                                            "description": "music: the header it was written to",
                                        },
                                        "refused": {"type": "string"},
                                        "withheld": {"type": "object"},
                                    },
                                }
                            }
                        },
                    },
                    **_errors(400, 401, 404, 413, 429, 503, 504),
                },
            }
        },
    },
}
