"""Command definitions shaped as discord.py syncs genbot's (a subset), for the page's tests."""

from __future__ import annotations

MODERATE_MEMBERS = 1 << 40

IMAGINE = {
    "id": "1",
    "type": 1,
    "name": "imagine",
    "description": "Make four images from a prompt (GAN)",
    "default_member_permissions": None,
    "options": [
        {
            "type": 3,
            "name": "prompt",
            "description": "what to draw",
            "required": True,
            "min_length": 1,
            "max_length": 500,
        },
        {
            "type": 4,
            "name": "seed",
            "description": "the same seed gives the same images",
            "min_value": 0,
            "max_value": 2**31 - 1,
        },
    ],
}
VARY = {
    "id": "2",
    "type": 1,
    "name": "vary",
    "description": "Make variations of an image (VAE)",
    "options": [
        {"type": 11, "name": "image", "description": "a PNG/JPEG/GIF/WebP image", "required": True},
        {
            "type": 10,
            "name": "strength",
            "description": "how far to wander",
            "min_value": 0.05,
            "max_value": 1.5,
        },
    ],
}
COMPOSE = {
    "id": "3",
    "type": 1,
    "name": "compose",
    "description": "Compose a folk tune",
    "options": [
        {"type": 3, "name": "prompt", "description": "a title", "required": True},
        {
            "type": 3,
            "name": "key",
            "description": "key",
            "choices": [{"name": "C", "value": "C"}, {"name": "A minor", "value": "Am"}],
        },
    ],
}
HELP = {"id": "4", "type": 1, "name": "help", "description": "What genbot can do", "options": []}
MOD = {
    "id": "5",
    "type": 1,
    "name": "mod",
    "description": "Moderation settings and review",
    "default_member_permissions": str(MODERATE_MEMBERS),
    "options": [
        {
            "type": 2,
            "name": "policy",
            "description": "This server's policy",
            "options": [
                {
                    "type": 1,
                    "name": "set",
                    "description": "Set one value",
                    "options": [
                        {"type": 3, "name": "key", "description": "what", "required": True},
                        {"type": 3, "name": "value", "description": "to what", "required": True},
                    ],
                },
                {
                    "type": 1,
                    "name": "shadow",
                    "description": "Log only",
                    "options": [
                        {"type": 5, "name": "on", "description": "on or off", "required": True},
                    ],
                },
            ],
        },
        {
            "type": 1,
            "name": "strikes",
            "description": "A member's strikes",
            "options": [
                {"type": 6, "name": "user", "description": "who", "required": True},
                {"type": 7, "name": "where", "description": "a channel"},
            ],
        },
    ],
}
CONTEXT_MENU = {"id": "6", "type": 3, "name": "report", "description": ""}
COMMANDS = [IMAGINE, VARY, COMPOSE, HELP, MOD, CONTEXT_MENU]
