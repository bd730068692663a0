"""The moderation labels, what each means in plain words, and how they map to other taxonomies."""

from __future__ import annotations

# Detoxify's labels (the `unbiased` model's names; other models map onto them).
DETOXIFY_LABELS = (
    "toxicity",
    "severe_toxicity",
    "obscene",
    "threat",
    "insult",
    "identity_attack",
    "sexual_explicit",
)
# Labels Detoxify lacks, scored by our rules and detectors.
RULE_LABELS = ("self_harm", "sexual_minors", "pii", "spam")
IMAGE_LABELS = ("image_denylisted", "image_nsfw", "image_out_of_distribution")
# An output repeating the private (community-contributed) data its model was fine-tuned on.
PRIVACY_LABELS = ("memorised",)
LABELS = DETOXIFY_LABELS + RULE_LABELS + IMAGE_LABELS + PRIVACY_LABELS

# What a refusal says about each label: "Your prompt was refused because it looks like ...".
PLAIN_WORDS = {
    "toxicity": "rude, disrespectful or offensive language",
    "severe_toxicity": "very hateful, aggressive or disrespectful language",
    "obscene": "obscene or vulgar language",
    "threat": "a threat of violence against someone",
    "insult": "an insult aimed at someone",
    "identity_attack": "an attack on people for who they are (an identity group)",
    "sexual_explicit": "sexually explicit content",
    "self_harm": "talk of suicide or self-harm (if this is about you, please reach out to "
    "someone you trust or a local helpline)",
    "sexual_minors": "sexual content involving minors",
    "pii": "personal information (an email, phone number, address, card number or token)",
    "spam": "spam (mass mentions, repeated text or invite links)",
    "image_denylisted": "an image that this server's moderators have banned",
    "image_nsfw": "an image that looks not safe for work",
    "image_out_of_distribution": "an image unlike anything this model can work with",
    "memorised": "a copy of private, community-contributed training data (held to protect "
    "the people who shared it)",
    "scorer_failure": "something our safety checks could not judge (a moderator will look)",
}

# label -> (OpenAI moderation categories, Llama Guard 3 categories)
CATEGORY_MAP: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "toxicity": (("harassment",), ("S10 Hate",)),
    "severe_toxicity": (("harassment", "hate"), ("S10 Hate",)),
    "obscene": ((), ()),
    "threat": (("harassment/threatening", "violence"), ("S1 Violent Crimes",)),
    "insult": (("harassment",), ()),
    "identity_attack": (("hate", "hate/threatening"), ("S10 Hate",)),
    "sexual_explicit": (("sexual",), ("S12 Sexual Content",)),
    "self_harm": (
        ("self-harm", "self-harm/intent", "self-harm/instructions"),
        ("S11 Suicide & Self-Harm",),
    ),
    "sexual_minors": (("sexual/minors",), ("S4 Child Sexual Exploitation",)),
    "pii": ((), ("S7 Privacy",)),
    "spam": ((), ()),
    "image_denylisted": ((), ()),
    "image_nsfw": (("sexual",), ("S12 Sexual Content",)),
    "image_out_of_distribution": ((), ()),
    "memorised": ((), ()),  # training-data privacy: neither taxonomy has it
}

# Categories of those taxonomies that no genbot label covers.
NOT_COVERED = (
    "OpenAI: illicit, illicit/violent, violence/graphic",
    "Llama Guard 3: S2 Non-Violent Crimes, S3 Sex-Related Crimes, S5 Defamation, "
    "S6 Specialized Advice, S8 Intellectual Property, S9 Indiscriminate Weapons, "
    "S13 Elections, S14 Code Interpreter Abuse",
)


def describe(label: str) -> str:
    """Return the plain-words meaning of `label` (the label itself when unknown)."""
    return PLAIN_WORDS.get(label, label.replace("_", " "))
