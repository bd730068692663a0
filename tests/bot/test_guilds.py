"""A guild's settings as one value: the adult preset applies only in age-restricted channels."""

from bot.guilds import GuildConfig


def test_adult_applies_only_where_the_channel_is_age_restricted():
    config = GuildConfig(1, preset="adult")
    assert config.policy(age_restricted=True)["name"] == "adult"
    assert config.policy(age_restricted=False)["name"] == "pg13"
    relaxed, strict = config.policy(True)["output"], config.policy(False)["output"]
    assert relaxed["obscene"][1] > strict["obscene"][1]


def test_overrides_and_shadow_reach_the_service_policy():
    config = GuildConfig(1, overrides={"toxicity": [0.1, 0.2]}, shadow=True)
    policy = config.policy()
    assert policy["shadow"] is True and policy["prompt"]["toxicity"] == [0.1, 0.2]
