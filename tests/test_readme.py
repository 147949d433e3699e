"""The README's Python blocks run as written, each on its own (none leans on an earlier one)."""

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def run_block(index, tmp_path, monkeypatch, capsys):
    """Run block ``index`` in a fresh namespace, from a folder with the README's data paths."""
    shutil.copytree(ROOT / "tests" / "data", tmp_path / "tests" / "data")
    monkeypatch.chdir(tmp_path)  # caches the blocks write land here, not in the repository
    namespace = {}
    exec(compile(BLOCKS[index], f"README.md (Python block {index + 1})", "exec"), namespace)
    return namespace, capsys.readouterr().out


def test_readme_has_the_documented_blocks():
    assert len(BLOCKS) == 3  # quickstart, neural reward models, from text


def test_readme_quickstart_runs(tmp_path, monkeypatch, capsys):
    _, out = run_block(0, tmp_path, monkeypatch, capsys)
    assert "annotation error rate" in out
    gains = [float(g) for g in re.findall(r"improvement (-?[\d.]+)", out)]
    assert len(gains) == 2 and min(gains) > 0


@pytest.mark.slow
def test_readme_neural_block_runs_on_its_own(tmp_path, monkeypatch, capsys):
    namespace, out = run_block(1, tmp_path, monkeypatch, capsys)
    scores = [float(s) for s in re.findall(r"(?:BT|CLF)-MLP ([\d.]+)", out)]
    assert len(scores) == 2 and min(scores) > 0.8
    assert namespace["rewards"].shape == namespace["data"].golden_test.shape


@pytest.mark.slow
def test_readme_text_block_runs_on_the_shipped_sample(tmp_path, monkeypatch, capsys):
    with pytest.warns(UserWarning, match="dropped 1 comparisons"):  # the sample's empty answer
        namespace, _ = run_block(2, tmp_path, monkeypatch, capsys)
    assert namespace["rewards"].shape == (len(namespace["data"]),)
    assert (tmp_path / ".skreward_cache").is_dir()
