"""The README's quickstart runs as written."""

import re
from pathlib import Path


def test_readme_quickstart_runs(capsys):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    quickstart = re.search(r"## Quickstart\s+```python\n(.*?)```", readme, re.S).group(1)
    exec(compile(quickstart, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "annotation error rate" in out
    gains = [float(g) for g in re.findall(r"improvement (-?[\d.]+)", out)]
    assert len(gains) == 2 and min(gains) > 0
