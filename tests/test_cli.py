"""The real `genbot` CLI in a subprocess: version, doctor, and clear one-line errors."""

import json

from data import migrations


def test_version(genbot):
    result = genbot("--version")
    assert result.returncode == 0 and result.stdout.startswith("genbot 0.")


def test_doctor_on_a_fresh_home_reports_every_check(genbot, home):
    result = genbot("doctor", "--json", env={"GENBOT_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)}
    assert set(checks) == {"python", "genbot", "torch", "store", "models", "detoxify", "service"}
    assert checks["torch"]["status"] == "ok" and "device" in checks["torch"]["detail"]
    assert checks["store"]["status"] == "ok"
    assert all(name in checks["store"]["detail"] for name in migrations.known())
    assert (home / "genbot.db").is_file()
    assert checks["detoxify"]["status"] in ("ok", "warn")


def test_doctor_creates_the_default_home(genbot, tmp_path):
    result = genbot("doctor")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "genbot.db").is_file()
    assert "store" in result.stdout and "detoxify" in result.stdout


def test_doctor_reports_a_service_that_does_not_answer(genbot, home):
    env = {"GENBOT_HOME": str(home), "GENBOT_SERVICE_URL": "http://127.0.0.1:9"}
    result = genbot("doctor", "--json", env=env)
    service = next(c for c in json.loads(result.stdout) if c["name"] == "service")
    assert service["status"] == "warn" and "does not answer" in service["detail"]


def test_doctor_fails_on_a_corrupt_database(genbot, home):
    (home / "genbot.db").write_bytes(b"\x00garbage" * 512)
    result = genbot("doctor", env={"GENBOT_HOME": str(home)})
    assert result.returncode == 1
    assert "FAIL  store" in result.stdout and "not a valid SQLite database" in result.stdout


def one_line_error(result, *fragments):
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genbot: error: "), result.stderr
    assert all(f in lines[0] for f in fragments), lines[0]
    return lines[0]


def test_missing_home_is_a_clear_error(genbot, tmp_path):
    missing = tmp_path / "nowhere"
    result = genbot("doctor", env={"GENBOT_HOME": str(missing)})
    one_line_error(result, "GENBOT_HOME", str(missing), "does not exist")
    assert not missing.exists()


def test_home_that_is_a_file_is_a_clear_error(genbot, tmp_path):
    (tmp_path / "afile").write_text("x")
    one_line_error(genbot("doctor", env={"GENBOT_HOME": "afile"}), "GENBOT_HOME", "not a folder")


def test_unknown_and_malformed_settings_are_clear_errors(genbot, home):
    env = {"GENBOT_HOME": str(home)}
    one_line_error(genbot("doctor", env={**env, "GENBOT_PROT": "1"}), "GENBOT_PROT", "unknown")
    one_line_error(genbot("doctor", env={**env, "GENBOT_PORT": "x"}), "GENBOT_PORT", "'x'")
    assert not (home / "genbot.db").exists()


def test_bad_config_file_is_a_clear_error(genbot, tmp_path):
    (tmp_path / "genbot.toml").write_text("port = ")
    one_line_error(genbot("doctor"), "genbot.toml", "not valid TOML")


def test_unknown_subcommand_is_refused(genbot):
    result = genbot("frobnicate")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_doctor_says_which_arithmetic_detoxify_runs_in(genbot, home):
    from moderation.scorers.local_checkpoint import build

    checkpoint, config = build(home / "detoxify")
    env = {
        "GENBOT_HOME": str(home),
        "GENBOT_DETOXIFY_CHECKPOINT": str(checkpoint),
        "GENBOT_DETOXIFY_CONFIG": str(config),
        "GENBOT_DETOXIFY_PRECISION": "fp32",
        "GENBOT_DEVICE": "cpu",
    }
    result = genbot("doctor", "--json", env=env)
    detoxify = next(c for c in json.loads(result.stdout) if c["name"] == "detoxify")
    assert detoxify["status"] == "ok" and "runs in fp32 on cpu" in detoxify["detail"]
