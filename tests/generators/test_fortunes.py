"""The fortunes corpus: safe files only, quotes split and screened, a stable split."""

import json

import pytest

from data import fortunes


def fake_folder(root):
    folder = root / "fortunes"
    folder.mkdir()
    (folder / "wisdom").write_text("A stitch in time saves nine.\n%\nLook before you leap.\n%\n")
    (folder / "science").write_text("E = mc^2\n%\nI want to kill myself over this proof.\n%\n")
    (folder / "politics").write_text("Something political.\n%\n")
    (folder / "ethnic").write_text("Something ethnic.\n%\n")
    return folder


def test_only_safe_files_and_screened_quotes(tmp_path):
    files = fortunes.build(tmp_path, fake_folder(tmp_path))
    rows = [json.loads(line) for line in files["quotes"].read_text().splitlines()]
    assert sorted(r["text"] for r in rows) == [
        "A stitch in time saves nine.",
        "E = mc^2",
        "Look before you leap.",
    ]
    assert {r["file"] for r in rows} == {"wisdom", "science"}
    stats = json.loads(files["stats"].read_text())
    assert stats["dropped"] == {"caught by genbot's rules": 1}
    assert "politics" in files["licence"].read_text()
    (tmp_path / "again").mkdir()
    files_again = fortunes.build(tmp_path / "again", fake_folder(tmp_path / "again"))
    again = [json.loads(line) for line in files_again["quotes"].read_text().splitlines()]
    assert [(r["id"], r["split"]) for r in again] == [(r["id"], r["split"]) for r in rows]


def test_safe_and_left_out_lists_do_not_overlap():
    assert not set(fortunes.SAFE) & set(fortunes.LEFT_OUT)
    assert {"ethnic", "politics"} <= set(fortunes.LEFT_OUT)


def test_missing_tools_are_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(fortunes.CorpusError, match="apt-get and dpkg-deb"):
        fortunes.download(tmp_path)


@pytest.mark.slow
def test_real_download_from_debian(tmp_path):
    files = fortunes.build(tmp_path)
    assert json.loads(files["stats"].read_text())["quotes"] > 10_000
