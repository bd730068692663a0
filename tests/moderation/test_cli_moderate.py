"""`genbot moderate`: arguments or stdin, JSON lines in input order."""

import json


def test_json_lines_in_input_order(genbot, home):
    texts = ["a red heart", "you are a fucking idiot", "mail me at jo@example.com"]
    result = genbot("moderate", "--json", *texts, env={"GENBOT_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["index"] for r in lines] == [0, 1, 2]
    assert [r["action"] for r in lines] == ["allow", "block", "flag"]
    assert all({"action", "reasons", "scores", "explanation"} <= set(r) for r in lines)
    assert lines[1]["reasons"][0]["label"] == "toxicity"


def test_stdin_one_text_per_line_with_bad_bytes(genbot, home):
    stdin = "hello\nkys\n\xff\xfe broken bytes\n".encode("latin-1")
    result = genbot(
        "moderate", "--json", "--direction", "output", "-", env={"GENBOT_HOME": str(home)},
        input=stdin, text=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    actions = [json.loads(line)["action"] for line in result.stdout.decode().splitlines()]
    assert actions == ["allow", "block", "allow"]


def test_human_output_explains(genbot, home):
    result = genbot("moderate", "I will kill you", env={"GENBOT_HOME": str(home)})
    assert "block" in result.stdout and "a threat of violence" in result.stdout


def test_shadow_mode_reports_without_enforcing(genbot, home):
    result = genbot(
        "moderate", "--json", "--shadow", "I will kill you", env={"GENBOT_HOME": str(home)}
    )
    record = json.loads(result.stdout)
    assert record["action"] == "allow" and record["shadow_action"] == "block"
