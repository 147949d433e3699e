import csv
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from skreward.datasets import make_preference_testbed
from skreward.experiments import PRESETS, load_grid, run_experiments, write_report

TINY = {"dataset": {"n_prompts": 60, "n_test_prompts": 6, "n_candidates": 16},
        "grid": [{"model": ["CLF-LGB", "BT-linear"], "beta": [0.3, 10.0], "n_pairs": [300, 600],
                  "pairing": ["same_prompt", "cross_prompt"], "seed": [0]},
                 {"model": ["BT-linear"], "beta": [1.0], "n_pairs": [300],
                  "pairing": ["similar", "diverse"], "seed": [0]}]}


def _rows(folder):
    with open(Path(folder) / "results.csv", newline="") as file:
        return list(csv.DictReader(file))


def test_tiny_grid_writes_results_report_and_figures(tmp_path, monkeypatch):
    import matplotlib

    rows = run_experiments(TINY, output=tmp_path, progress=False)
    assert len(rows) == 18 and len(_rows(tmp_path)) == 18
    clean = [float(r["improvement"]) for r in rows if r["beta"] == "10.0"]
    assert np.mean(clean) > 0.05
    assert all(0 <= float(r["annotation_error_rate"]) <= 0.6 for r in rows)
    # The report draws without pyplot and leaves the caller's matplotlib backend alone.
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # importing it now fails
    monkeypatch.setattr(matplotlib, "use", lambda *args, **kwargs: pytest.fail("backend set"))
    report = write_report(tmp_path).read_text()
    for figure in ["fig1_models.png", "fig2_error_rate.png", "fig3_n_pairs.png", "fig4_pairing.png",
                   "fig5_similar_diverse.png", "fig6_delta.png", "fig_best_of_n_curve.png"]:
        assert f"]({figure})" in report and (tmp_path / figure).stat().st_size > 5000
    assert "Cross-prompt ahead of same-prompt" in report


def test_rerun_skips_finished_cells_and_recovers_a_cut_line(tmp_path):
    run_experiments(TINY, output=tmp_path, progress=False)
    path = tmp_path / "results.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-3]) + lines[-3][:25])  # last two cells lost, one cut
    run_experiments(TINY, output=tmp_path, progress=False)
    rows = _rows(tmp_path)
    complete = [r for r in rows if None not in r.values()]
    assert len(complete) == 18
    assert len({(r["model"], r["beta"], r["n_pairs"], r["pairing"]) for r in complete}) == 18
    assert [r["improvement"] for r in complete[:15]] == \
        [line.split(",")[list(rows[0]).index("improvement")] for line in lines[1:16]]


# `skreward run` whose results writer stops the process after the first cell is on disk,
# so that the test kills it at a known point (no timing, no sleep).
STOP_AFTER_FIRST_CELL = """
import sys, threading
from skreward.experiments import _cli, _runner

append = _runner._append

def append_then_wait(path, row):
    append(path, row)
    print("first cell written", flush=True)
    threading.Event().wait()  # until the test kills this process

_runner._append = append_then_wait
sys.exit(_cli.main(sys.argv[1:]))
"""


def test_killed_command_resumes_without_losing_or_repeating_cells(tmp_path):
    grid = dict(TINY, grid=[{"model": ["CLF-LGB"], "beta": [0.3, 1.0, 3.0, 10.0],
                             "n_pairs": [1500], "pairing": ["same_prompt", "cross_prompt"],
                             "seed": [0]}])
    grid_file = tmp_path / "grid.json"
    grid_file.write_text(json.dumps(grid))
    arguments = ["run", str(grid_file), "--output", str(tmp_path), "--no-progress"]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    process = subprocess.Popen([sys.executable, "-c", STOP_AFTER_FIRST_CELL, *arguments,
                                "--n-jobs", "1"], env=env, stdout=subprocess.PIPE, text=True)
    watchdog = threading.Timer(120, process.kill)  # a hung run fails the test, never blocks it
    watchdog.start()
    try:
        signal_line = process.stdout.readline()
        before = _rows(tmp_path)  # read while the process is alive and blocked
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL
    finally:
        watchdog.cancel()
        process.stdout.close()
    assert signal_line == "first cell written\n"
    assert len(before) == 1 and before[0]["model"] == "CLF-LGB"

    done = subprocess.run([sys.executable, "-m", "skreward", *arguments], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    after = _rows(tmp_path)
    assert len(after) == 8 and after[0] == before[0]
    assert len({(r["beta"], r["pairing"]) for r in after}) == 8
    # the command prints the findings of the report it wrote
    report = (tmp_path / "report.md").read_text()
    printed = done.stdout.splitlines()
    assert printed[0] == f"report: {tmp_path / 'report.md'}" and len(printed) > 1
    assert all(line.startswith("- **") and line in report for line in printed[1:])
    assert any("Cross-prompt ahead of same-prompt" in line for line in printed)


def test_runner_cell_is_the_public_simulated_annotator():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from skreward import PairwiseTransformer, SimulatedAnnotator
    from skreward.experiments._runner import run_cell
    from skreward.metrics import best_of_n_report

    data = make_preference_testbed(n_prompts=40, n_test_prompts=4, n_candidates=16,
                                   random_state=0)
    cell = {"model": "BT-linear", "beta": 3.0, "n_pairs": 300, "pairing": "similar",
            "seed": 2, "link": "probit"}
    row = run_cell(cell, data, None, 8)
    model = SimulatedAnnotator(
        make_pipeline(PairwiseTransformer("difference"), LogisticRegression(fit_intercept=False)),
        n_pairs=300, pairing="similar", beta=3.0, link="probit", random_state=2,
    ).fit(data.X, data.golden, groups=data.groups)
    report = best_of_n_report(data.golden_test, model.decision_function(data.X_test),
                              data.groups_test, n=8, random_state=2)
    assert row["annotation_error_rate"] == model.annotation_error_rate_
    assert row["mean_abs_delta"] == model.mean_abs_delta_
    assert row["improvement"] == report.improvement and row["golden"] == report.golden


def test_presets_are_valid_and_the_paper_preset_is_big():
    quick, paper = load_grid("quick"), load_grid("paper")
    assert {"BT-MLP", "CLF-MLP", "CLF-LGB"} <= set(quick["grid"][0]["model"])
    assert set(PRESETS) == {"quick", "paper"}
    assert paper["dataset"]["n_candidates"] == 500


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not valid JSON"),
    ('{"models": []}', "with a 'grid' entry"),
    ('{"grid": {"model": ["CLF-LGB"], "beta": [1.0]}}', r"missing \['n_pairs', 'pairing', 'seed'\]"),
    ('{"grid": {"model": ["SVM"], "beta": [1.0], "n_pairs": [10], "pairing": ["same_prompt"], '
     '"seed": [0]}}', "'model' parameter of the experiment grid must be a str among"),
    ('{"grid": {"model": ["CLF-LGB"], "beta": [-1], "n_pairs": [10], "pairing": ["same_prompt"], '
     '"seed": [0]}}', r"'beta' parameter of the experiment grid must be a float in the range \[0.0"),
    ('{"grid": {"model": ["CLF-LGB"], "beta": [1], "n_pairs": [10.5], "pairing": ["same"], '
     '"seed": [0]}}', "'n_pairs' parameter of the experiment grid must be an int"),
    ('{"grid": {"model": ["CLF-LGB"], "beta": [1], "n_pairs": [10], "pairing": ["same"], '
     '"seed": [0]}}', "'pairing' parameter of the experiment grid must be a str among"),
    ('{"grid": {"model": ["CLF-LGB"], "beta": [1], "n_pairs": [10], "pairing": ["similar"], '
     '"seed": [0], "link": ["cauchy"]}}', "'link' parameter of the experiment grid must be"),
    ('{"grid": {"model": ["CLF-LGB"], "beta": 1.0, "n_pairs": [10], "pairing": ["same_prompt"], '
     '"seed": [0]}}', "'beta' must be a non-empty list"),
    ('{"grid": {"model": ["CLF-LGB"], "beta": [-1], "n_pairs": [10], "pairing": ["same_prompt"], '
     '"seed": [0], "colour": ["red"]}}', r"unknown \['colour'\]"),
])
def test_malformed_grid_file_gets_a_clear_error(tmp_path, content, message):
    path = tmp_path / "grid.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        run_experiments(str(path), output=tmp_path)


def test_command_reports_errors_without_a_traceback(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    done = subprocess.run([sys.executable, "-m", "skreward", "run", "nope.json", "--output",
                           str(tmp_path)], env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert "skreward: error: grid must be a preset ('quick', 'paper') or a JSON file" in done.stderr


def test_user_npz_data_is_split_by_prompt(tmp_path):
    data = make_preference_testbed(n_prompts=80, n_test_prompts=1, n_candidates=2, random_state=0)
    np.savez(tmp_path / "items.npz", X=data.X, golden=data.golden, groups=data.groups)
    grid = {"grid": {"model": ["BT-linear"], "beta": [10.0], "n_pairs": [300],
                     "pairing": ["same_prompt"], "seed": [0]}}
    rows = run_experiments(grid, data=tmp_path / "items.npz", output=tmp_path, progress=False)
    assert rows[0]["n_eval"] == "10" and float(rows[0]["improvement"]) > 0


def test_parquet_and_scored_jsonl_data(tmp_path, monkeypatch):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    data = make_preference_testbed(n_prompts=80, n_features=16, n_latent=4, n_test_prompts=1,
                                   n_candidates=2, random_state=0)
    frame = pd.DataFrame(data.X, columns=[f"x{i}" for i in range(16)])
    frame["golden"], frame["groups"] = data.golden, data.groups
    frame.to_parquet(tmp_path / "items.parquet")
    grid = {"grid": {"model": ["BT-linear"], "beta": [10.0], "n_pairs": [200],
                     "pairing": ["same_prompt"], "seed": [0]}}
    rows = run_experiments(grid, data=tmp_path / "items.parquet", output=tmp_path / "a",
                           progress=False)
    assert float(rows[0]["improvement"]) > 0

    monkeypatch.setenv("HOME", str(tmp_path))  # the embedding cache goes to ~/.cache/skreward
    lines = [{"question_id": f"q{q}", "prompt": f"Question {q}: name a colour.",
              "response": text, "score": score}
             for q in range(5) for text, score in [("Blue.", 9), ("Red is a colour.", 8),
                                                   ("I like trains.", 2), ("", 1), ("42", 1)]]
    path = tmp_path / "scored.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines))
    rows = run_experiments(dict(grid, grid=dict(grid["grid"], n_pairs=[10])), data=path,
                           output=tmp_path / "b", progress=False)
    assert rows[0]["n_eval"] == "4"  # the empty response is dropped by the loader
    assert (tmp_path / ".cache" / "skreward").is_dir()


def test_unknown_data_file_type_is_rejected(tmp_path):
    (tmp_path / "items.txt").write_text("1 2 3")
    with pytest.raises(ValueError, match="data must be a .npz, .parquet or scored-responses"):
        run_experiments("quick", data=tmp_path / "items.txt", output=tmp_path)
