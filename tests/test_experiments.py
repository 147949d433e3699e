import csv
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zlib
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


def _verified_lines(folder):
    """The data lines of results.csv, each checked against its CRC-32 (independently of skreward)."""
    text = (Path(folder) / "results.csv").read_text()
    assert text.endswith("\n")
    lines = text.splitlines()
    assert lines[0].endswith(",crc")
    for line in lines[1:]:
        body, checksum = line.rsplit(",", 1)
        assert checksum == f"{zlib.crc32(body.encode()):08x}", line
    return lines[1:]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    run_experiments(TINY, output=folder, progress=False)
    return folder


def _cut_inside_the_checksum(line):
    return line[:-3]


def _cut_after_the_last_comma(line):
    return line[:line.rindex(",") + 1]


def _cut_inside_the_last_number(line):
    return line[:line.rindex(",") - 3]


def _cut_after_the_last_comma_of_the_data(line):
    return line[:line[:line.rindex(",")].rindex(",") + 1]


def _cut_mid_row(line):
    return line[:len(line) // 2]


@pytest.mark.parametrize("cut", [_cut_inside_the_checksum, _cut_after_the_last_comma,
                                 _cut_inside_the_last_number,
                                 _cut_after_the_last_comma_of_the_data, _cut_mid_row])
def test_resume_drops_a_cut_last_row_recomputes_it_and_leaves_the_file_clean(tiny_run, tmp_path,
                                                                            cut):
    import shutil

    for name in ("results.csv", "manifest.json"):
        shutil.copy(tiny_run / name, tmp_path / name)
    lines = _verified_lines(tmp_path)
    header = (tmp_path / "results.csv").read_text().splitlines()[0]
    # as a killed run leaves it: the last cell's line cut, no newline after it
    (tmp_path / "results.csv").write_text("\n".join([header, *lines[:-1], cut(lines[-1])]))
    rows = run_experiments(TINY, output=tmp_path, progress=False)
    after = _verified_lines(tmp_path)
    assert len(rows) == len(after) == 18
    assert after[:-1] == lines[:-1]  # the finished rows are kept as they were
    column = header.split(",").index("improvement")
    assert after[-1].split(",")[:column + 1] == lines[-1].split(",")[:column + 1]


def test_resume_drops_a_damaged_row_in_the_middle(tiny_run, tmp_path):
    import shutil

    for name in ("results.csv", "manifest.json"):
        shutil.copy(tiny_run / name, tmp_path / name)
    text = (tmp_path / "results.csv").read_text().splitlines(keepends=True)
    damaged = text[5].replace("0.", "9.", 1)
    (tmp_path / "results.csv").write_text("".join(text[:5] + [damaged] + text[6:]))
    run_experiments(TINY, output=tmp_path, progress=False)
    after = _verified_lines(tmp_path)
    assert len(after) == 18 and damaged.rstrip("\n") not in after
    assert after[:-1] == [line.rstrip("\n") for line in text[1:5] + text[6:]]


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


def _proc_stat(pid):
    """(state, parent id, start time) of a process from /proc, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), fields[19]


def _descendants(pid):
    """{(pid, start time)} of every process below ``pid``, read from /proc."""
    stats = {int(p): _proc_stat(p) for p in os.listdir("/proc") if p.isdigit()}
    found, parents = set(), {pid}
    while parents:
        children = {(p, s[2]) for p, s in stats.items() if s and s[1] in parents}
        parents = {p for p, _ in children} - {p for p, _ in found}
        found |= children
    return found


def _marked(marker):
    """{(pid, start time)} of the processes whose environment holds ``marker``."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        if marker + b"\0" in environ and (stat := _proc_stat(pid)):
            found.add((int(pid), stat[2]))
    return found


def _survivors(processes, wait=30.0):
    """The processes still running (not gone, not a zombie, not a reused id) after ``wait`` s."""
    deadline = time.monotonic() + wait
    while True:
        alive = {(p, start) for p, start in processes
                 if (stat := _proc_stat(p)) and stat[0] != "Z" and stat[2] == start}
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="reads the killed process's children from /proc (Linux only)")
def test_killed_command_resumes_without_losing_or_repeating_cells(tmp_path):
    grid = dict(TINY, grid=[{"model": ["CLF-LGB"], "beta": [0.3, 1.0, 3.0, 10.0],
                             "n_pairs": [1500], "pairing": ["same_prompt", "cross_prompt"],
                             "seed": [0]}])
    grid_file = tmp_path / "grid.json"
    grid_file.write_text(json.dumps(grid))
    arguments = ["run", str(grid_file), "--output", str(tmp_path), "--no-progress"]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]))
    process = subprocess.Popen([sys.executable, "-c", STOP_AFTER_FIRST_CELL, *arguments,
                                "--n-jobs", "2"], env=env, stdout=subprocess.PIPE, text=True)
    watchdog = threading.Timer(120, process.kill)  # a hung run fails the test, never blocks it
    watchdog.start()
    try:
        signal_line = process.stdout.readline()
        before = _rows(tmp_path)  # read while the process is alive and blocked
        children = _descendants(process.pid)  # joblib's workers and resource trackers
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL
    finally:
        watchdog.cancel()
        process.stdout.close()
    assert signal_line == "first cell written\n"
    assert len(before) == 1 and before[0]["model"] == "CLF-LGB"
    assert len(children) >= 2
    survivors = _survivors(children)
    for pid, _ in survivors:  # leave nothing behind, then fail
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"children of the killed run still alive: {sorted(survivors)}"

    marker = f"SKREWARD_TEST_RUN={tmp_path}".encode()  # inherited by every child of the run
    done = subprocess.run([sys.executable, "-m", "skreward", *arguments],
                          env=dict(env, SKREWARD_TEST_RUN=str(tmp_path)),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not _survivors(_marked(marker), wait=10)  # nor after a run that ends normally
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
    assert set(PRESETS) == {"quick", "paper", "authors-quick", "authors-full"}
    assert paper["dataset"]["n_candidates"] == 500


@pytest.mark.parametrize("name", ["authors-quick", "authors-full"])
def test_authors_presets_follow_their_protocol(name):
    grid = load_grid(name)
    assert grid["ensemble"] == {"n_estimators": 10, "aggregates": ["mean", "min", "first"]}
    assert grid["curve_ns"] == [2, 5, 10, 30, 50, 100, 300, 500] and grid["n_eval"] == 500
    assert {k: grid["mlp"][k] for k in ("lr", "max_epochs", "validation_fraction", "patience")} \
        == {"lr": 1e-3, "max_epochs": 30, "validation_fraction": 0.2, "patience": 3}
    assert all(part["pairing"] == ["cross_prompt"] for part in grid["grid"])
    assert {"BT-MLP", "CLF-MLP"} <= set(grid["grid"][0]["model"])
    if name == "authors-full":
        assert grid["mlp"]["batch_size"] == 10000 and grid["dataset"]["n_candidates"] == 500


ENSEMBLE = {"dataset": {"n_prompts": 60, "n_test_prompts": 6, "n_candidates": 16},
            "ensemble": {"n_estimators": 3, "aggregates": ["mean", "min", "first"],
                         "bootstrap": True},
            "curve_ns": [2, 5, 10, 30], "n_eval": 500,
            "grid": {"model": ["BT-linear"], "beta": [10.0], "n_pairs": [300],
                     "pairing": ["cross_prompt"], "seed": [0, 1]}}


def test_an_ensemble_grid_judges_one_fit_under_each_aggregate(tmp_path):
    from skreward.experiments._grid import make_model
    from skreward.metrics import best_of_n_report, prompt_spearman_score

    rows = run_experiments(ENSEMBLE, output=tmp_path, progress=False)
    row = rows[0]
    assert row["n_eval"] == "16"  # N capped at the smallest test prompt; curve N above it left out
    assert [c for c in row if c.startswith("improvement@")] == ["improvement@2",
                                                                "improvement@5", "improvement@10"]
    for key in ("golden", "improvement", "oracle_fraction", "quantile", "spearman",
                "improvement@10"):
        assert row[f"mean:{key}"] == row[key]  # the first aggregate gives the main columns
    assert row["min:spearman"] != row["mean:spearman"]  # the aggregates rank differently
    # The columns are those of the ensemble's own rewards under each aggregate.
    from skreward import SimulatedAnnotator

    data = make_preference_testbed(**{**ENSEMBLE["dataset"], "random_state": 0})
    model = SimulatedAnnotator(make_model("BT-linear", 0, None, ENSEMBLE["ensemble"]),
                               n_pairs=300, pairing="cross_prompt", beta=10.0, random_state=0)
    model.fit(data.X, data.golden, groups=data.groups)
    ensemble = model.estimator_
    assert len(ensemble.estimators_) == 3 and ensemble.bootstrap
    args = (data.golden_test, ensemble.member_rewards(data.X_test)[0], data.groups_test)
    report = best_of_n_report(*args, n=16)
    assert float(row["first:quantile"]) == pytest.approx(report.quantile)
    assert float(row["first:golden"]) == pytest.approx(report.golden)
    assert float(row["first:spearman"]) == pytest.approx(prompt_spearman_score(*args))
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["ensemble"] == {"n_estimators": 3, "aggregates": ["mean", "min", "first"],
                                    "k": 1.0, "bootstrap": True}
    assert manifest["best_of_n"] == {"method": "exact", "curve_ns": [2, 5, 10, 30]}
    report = write_report(tmp_path).read_text()
    table = report.split("## Ensemble aggregates")[1].split("## ")[0]
    assert "values are means over 2 seeds" in table
    assert "| BT-linear | cross_prompt | 10 | 300 | min |" in table
    # Another ensemble into the same folder is refused.
    with pytest.raises(ValueError, match=r"ensemble: recorded .*\"n_estimators\": 3"):
        run_experiments(dict(ENSEMBLE, ensemble={"n_estimators": 4}), output=tmp_path,
                        progress=False)


@pytest.mark.parametrize("entry, message", [
    ({"ensemble": {"n_estimators": 0}}, "ensemble 'n_estimators' must be an int >= 1"),
    ({"ensemble": {"aggregates": ["median"]}}, "ensemble 'aggregates' must be a non-empty list"),
    ({"ensemble": {"k": -1}}, "ensemble 'k' must be a number >= 0"),
    ({"ensemble": {"size": 3}}, "'ensemble' must be an object with keys among"),
    ({"ensemble": {"bootstrap": "yes"}}, "ensemble 'bootstrap' must be true or false"),
    ({"curve_ns": [2, 0]}, "'curve_ns' must be a non-empty list of ints >= 1"),
    ({"curve_ns": []}, "'curve_ns' must be a non-empty list of ints >= 1"),
])
def test_bad_ensemble_or_curve_entries_get_clear_errors(entry, message):
    with pytest.raises(ValueError, match=message):
        load_grid({**ENSEMBLE, **entry})


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
    assert ("skreward: error: grid must be a preset ('quick', 'paper', 'authors-quick', "
            "'authors-full') or a JSON file") in done.stderr


def test_user_npz_data_is_split_by_prompt(tmp_path):
    data = make_preference_testbed(n_prompts=80, n_test_prompts=1, n_candidates=2, random_state=0)
    np.savez(tmp_path / "items.npz", X=data.X, golden=data.golden, groups=data.groups)
    grid = {"grid": {"model": ["BT-linear"], "beta": [10.0], "n_pairs": [300],
                     "pairing": ["same_prompt"], "seed": [0]}}
    rows = run_experiments(grid, data=tmp_path / "items.npz", output=tmp_path, progress=False)
    assert rows[0]["n_eval"] == "10" and float(rows[0]["improvement"]) > 0
    assert np.isnan(float(rows[0]["length_correlation"]))  # no lengths: no length bias
    assert float(rows[0]["annotation_tie_rate"]) == 0.0  # continuous golden rewards

    # With the responses' lengths, the length bias of the learned reward is reported.
    lengths = np.argsort(np.argsort(data.golden)) + 1.0  # longer is better, exactly
    np.savez(tmp_path / "lengths.npz", X=data.X, golden=data.golden, groups=data.groups,
             lengths=lengths)
    rows = run_experiments(grid, data=tmp_path / "lengths.npz", output=tmp_path / "lengths",
                           progress=False)
    assert 0.3 < float(rows[0]["length_correlation"]) <= 1


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
    with pytest.warns(UserWarning, match="dropped 5 responses"):  # the loader says so
        rows = run_experiments(dict(grid, grid=dict(grid["grid"], n_pairs=[10])), data=path,
                               output=tmp_path / "b", progress=False)
    assert rows[0]["n_eval"] == "4"  # the empty response is dropped by the loader
    assert -1 <= float(rows[0]["length_correlation"]) <= 1  # texts give lengths
    assert (tmp_path / ".cache" / "skreward").is_dir()


def test_unknown_data_file_type_is_rejected(tmp_path):
    (tmp_path / "items.txt").write_text("1 2 3")
    with pytest.raises(ValueError, match="data must be a .npz, .parquet or scored-responses"):
        run_experiments("quick", data=tmp_path / "items.txt", output=tmp_path)


ONE_CELL = {"dataset": {"n_prompts": 60, "n_test_prompts": 6, "n_candidates": 16},
            "grid": {"model": ["BT-linear"], "beta": [10.0], "n_pairs": [300],
                     "pairing": ["same_prompt"], "seed": [0]}}


def test_the_results_folder_records_what_produced_it(tmp_path):
    data = make_preference_testbed(n_prompts=60, n_test_prompts=6, n_candidates=16,
                                   random_state=1)
    np.savez(tmp_path / "items.npz", X=data.X, golden=data.golden, groups=data.groups)
    run_experiments(ONE_CELL, output=tmp_path / "a", progress=False)
    run_experiments(ONE_CELL, data=tmp_path / "items.npz", output=tmp_path / "b", progress=False)
    testbed = json.loads((tmp_path / "a" / "manifest.json").read_text())
    user = json.loads((tmp_path / "b" / "manifest.json").read_text())
    import skreward

    assert testbed["skreward_version"] == skreward.__version__
    assert testbed["data"] == {"source": "synthetic testbed", "settings": {
        "n_prompts": 60, "n_responses": 10, "n_test_prompts": 6, "n_candidates": 16,
        "n_features": 64, "n_latent": 16, "response_spread": 0.5, "prompt_offset": 0.5,
        "embedding_noise": 0.1, "random_state": 0}}
    import hashlib

    content = (tmp_path / "items.npz").read_bytes()
    assert user["data"] == {"source": "file", "name": "items.npz", "size": len(content),
                            "sha256": hashlib.sha256(content).hexdigest()}
    assert testbed["grid"] == [ONE_CELL["grid"]] and testbed["n_eval"] == 64
    # the report states its data and grid
    report = write_report(tmp_path / "b").read_text()
    assert f"- Data: `items.npz` ({len(content):,} bytes, SHA-256 `{user['data']['sha256']}`)" \
        in report
    assert json.dumps(ONE_CELL["grid"]) in report
    assert "make_preference_testbed(n_prompts=60, n_responses=10, n_test_prompts=6" in \
        write_report(tmp_path / "a").read_text()


@pytest.mark.parametrize("change, message", [
    ({"data": "items.npz"}, r"data: recorded \{\"source\": \"synthetic testbed\".*this run "
                            r"\{\"source\": \"file\", \"name\": \"items.npz\""),
    ({"grid": dict(ONE_CELL, dataset={"n_prompts": 80, "n_test_prompts": 6,
                                      "n_candidates": 16})},
     r"data: recorded .*\"n_prompts\": 60.*this run .*\"n_prompts\": 80"),
    ({"grid": dict(ONE_CELL, n_eval=8)}, r"n_eval: recorded 64, this run 8"),
    ({"grid": dict(ONE_CELL, mlp={"max_epochs": 5})}, r"mlp: recorded \{\}, this run "
                                                      r"\{\"max_epochs\": 5\}"),
])
def test_a_run_on_other_inputs_into_the_same_folder_is_refused(tmp_path, change, message):
    data = make_preference_testbed(n_prompts=60, n_test_prompts=6, n_candidates=16,
                                   random_state=1)
    np.savez(tmp_path / "items.npz", X=data.X, golden=data.golden, groups=data.groups)
    first = run_experiments(ONE_CELL, output=tmp_path / "out", progress=False)
    before = (tmp_path / "out" / "results.csv").read_text()
    kwargs = {"grid": ONE_CELL, "data": None}
    kwargs.update(change)
    if kwargs["data"]:
        kwargs["data"] = tmp_path / kwargs["data"]
    with pytest.raises(ValueError, match="holds results of other inputs") as error:
        run_experiments(kwargs["grid"], data=kwargs["data"], output=tmp_path / "out",
                        progress=False)
    assert error.match(message) and error.match("fresh=True")
    assert (tmp_path / "out" / "results.csv").read_text() == before  # left as it was
    # fresh=True starts afresh and keeps the earlier files in a subfolder
    rows = run_experiments(kwargs["grid"], data=kwargs["data"], output=tmp_path / "out",
                           progress=False, fresh=True)
    kept = list((tmp_path / "out").glob("replaced-*"))
    assert len(kept) == 1 and (kept[0] / "results.csv").read_text() == before
    assert {"manifest.json", "results.csv"} <= {p.name for p in kept[0].iterdir()}
    assert len(rows) == 1 and rows[0]["fit_seconds"] != first[0]["fit_seconds"]


def test_more_cells_on_the_same_inputs_resume_and_are_recorded(tmp_path):
    run_experiments(ONE_CELL, output=tmp_path, progress=False)
    more = dict(ONE_CELL, grid=dict(ONE_CELL["grid"], seed=[0, 1]))
    rows = run_experiments(more, output=tmp_path, progress=False)
    assert [r["seed"] for r in rows] == ["0", "1"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["grid"] == [ONE_CELL["grid"], more["grid"]]


def test_results_of_an_older_skreward_are_refused_but_still_reported(tmp_path):
    run_experiments(ONE_CELL, output=tmp_path, progress=False)
    lines = (tmp_path / "results.csv").read_text().splitlines()
    (tmp_path / "results.csv").write_text("".join(line.rsplit(",", 1)[0] + "\n" for line in lines))
    with pytest.raises(ValueError, match="has no row checksums .* fresh=True"):
        run_experiments(ONE_CELL, output=tmp_path, progress=False)
    (tmp_path / "manifest.json").unlink()
    assert "Inputs not recorded" in write_report(tmp_path).read_text()
    run_experiments(ONE_CELL, output=tmp_path / "new", progress=False)
    (tmp_path / "new" / "manifest.json").unlink()
    with pytest.raises(ValueError, match="has no manifest.json, so the inputs"):
        run_experiments(ONE_CELL, output=tmp_path / "new", progress=False)


def _cli(capsys, *arguments):
    """Run the ``skreward`` command in this process: (exit status, stdout, stderr)."""
    from skreward.experiments._cli import main

    try:
        status = main(list(arguments))
    except SystemExit as exit:
        status = exit.code
    out, err = capsys.readouterr()
    return status, out, err


def test_command_errors_are_one_line(tmp_path, capsys):
    import re

    import torch

    grid = dict(ONE_CELL, dataset={"n_promts": 60})
    (tmp_path / "grid.json").write_text(json.dumps(grid))
    (tmp_path / "a-file").write_text("")
    cases = [
        (["run", str(tmp_path / "grid.json"), "--output", str(tmp_path / "out")],
         r"grid: unknown 'dataset' keys \['n_promts'\]; make_preference_testbed takes"),
        (["run", "quick", "--output", str(tmp_path / "a-file")],
         "output must be a folder; '.*a-file' is a file"),
        (["report", "--output", str(tmp_path / "a-file")],
         "output must be a folder; '.*a-file' is a file"),
    ]
    if not torch.cuda.is_available():
        cases.append((["run", "quick", "--device", "cuda", "--output", str(tmp_path / "out")],
                      "device='cuda' was requested, but torch .* sees no CUDA GPU"))
    for arguments, message in cases:
        status, _, err = _cli(capsys, *arguments)
        assert status == 2 and re.fullmatch(f"skreward: error: {message}.*\n", err), err
    assert not (tmp_path / "out").exists()


def test_command_refuses_other_data_in_the_same_folder_and_starts_afresh(tmp_path, capsys):
    (tmp_path / "grid.json").write_text(json.dumps(ONE_CELL))
    data = make_preference_testbed(n_prompts=60, n_test_prompts=6, n_candidates=16,
                                   random_state=1)
    np.savez(tmp_path / "items.npz", X=data.X, golden=data.golden, groups=data.groups)
    run = ["run", str(tmp_path / "grid.json"), "--output", str(tmp_path / "out"),
           "--no-progress", "--n-jobs", "1"]
    assert _cli(capsys, *run)[0] == 0
    status, _, err = _cli(capsys, *run, "--data", str(tmp_path / "items.npz"))
    assert status == 2
    assert "holds results of other inputs (data: recorded {\"source\": \"synthetic testbed\"" \
        in err and "--fresh" in err
    status, _, err = _cli(capsys, *run, "--data", str(tmp_path / "items.npz"), "--fresh")
    assert status == 0, err
    assert "- Data: `items.npz`" in (tmp_path / "out" / "report.md").read_text()


def _quick_like_frame():
    """Results shaped like the quick preset's, with known values per condition."""
    import pandas as pd

    from skreward.experiments._grid import grid_cells

    rng = np.random.default_rng(0)
    base = {"same_prompt": 0.4, "cross_prompt": 0.5, "similar": 0.2, "diverse": 0.45}
    rows = []
    for cell in grid_cells(load_grid("quick")):
        # the n_pairs sweep cells far below the rest: averaging them in would show
        value = base[cell["pairing"]] - (0.3 if cell["n_pairs"] != 3000 else 0.0)
        value += {0: -0.01, 1: 0.01}[cell["seed"]]
        rows.append({**cell, "n_eval": 64, "annotation_error_rate": 0.1,
                     "mean_abs_delta": rng.uniform(0.1, 0.7), "improvement": value,
                     "oracle_fraction": 0.5, "golden": 0.1, "spearman": 0.3,
                     "fit_seconds": 1.0,
                     **{f"improvement@{n}": value for n in (2, 4, 8, 16, 32, 64)}})
    return pd.DataFrame(rows)


def test_findings_and_figures_compare_like_with_like(tmp_path):
    from skreward.experiments import findings
    from skreward.experiments._conditions import reference_condition
    from skreward.experiments._results import append_result

    frame = _quick_like_frame()
    assert reference_condition(frame) == {"beta": 1.0, "n_pairs": 3000, "pairing": "same_prompt"}
    lines = findings(frame)
    assert any("Cross-prompt ahead of same-prompt: 0.500 vs 0.400 (n_pairs=3000" in line
               for line in lines)
    assert any("similar 0.200 vs diverse 0.450 (beta=1.0, n_pairs=3000" in line for line in lines)
    assert any("500 pairs 0.100 -> 6000 pairs 0.100" in line for line in lines)
    for row in frame.to_dict("records"):
        append_result(tmp_path / "results.csv", row)
    report = write_report(tmp_path).read_text()
    fig1 = report.split("## Fig. 1")[1].split("## Fig. 2")[0]
    assert "Held: beta=1.0, n_pairs=3000, pairing=same_prompt." in fig1
    assert "| BT-MLP | 0.400 | 0.010 | 2 |" in fig1  # one condition, sem over its 2 seeds
    fig5 = report.split("## Fig. 5")[1].split("## Fig. 6")[0]
    assert "| 1.000 | 3000 | BT-MLP | 0.400 | 0.500 | 0.200 | 0.450 |" in fig5


def test_figures_label_their_error_bars_and_their_tick_labels_do_not_overlap(tmp_path,
                                                                            monkeypatch):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from skreward.experiments import _figures
    from skreward.experiments._conditions import reference_condition

    frame = _quick_like_frame()
    saved = {}
    save = _figures._save
    monkeypatch.setattr(_figures, "_save", lambda fig, output, name, stats, held: saved.setdefault(
        name, fig) and save(fig, output, name, stats, held))
    for figure in _figures.FIGURES:
        figure(frame, reference_condition(frame), tmp_path)
    assert len(saved) == 7
    for name, fig in saved.items():
        assert any(text.get_text().startswith("mean over 2 seeds; error bars: standard error "
                                              "over the seeds of one condition") for text in
                   fig.texts), name
        renderer = FigureCanvasAgg(fig).get_renderer()
        for ax in fig.axes:
            labels = [label.get_window_extent(renderer) for label in
                      ax.get_xticklabels(which="both") if label.get_visible() and label.get_text()]
            for first, second in itertools.combinations(labels, 2):
                assert not first.overlaps(second), (name, ax.get_xticklabels(which="both"))
    ticks = [label.get_text() for label in saved["fig3_n_pairs.png"].axes[0].get_xticklabels()]
    assert ticks == ["500", "1,000", "3,000", "6,000"]
