"""The ``skreward`` command: ``skreward run`` a grid, ``skreward report`` its results,
``skreward serve`` a saved model."""

import argparse
import sys


def main(argv=None):
    """Entry point of the ``skreward`` console command."""
    parser = argparse.ArgumentParser(
        prog="skreward", description="Reproduce the reward-model experiments of Sun et al. (2025).")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a grid (resumes where a stopped run ended), "
                                          "then write the report")
    run.add_argument("grid", nargs="?", default="quick",
                     help="preset 'quick' (minutes) or 'paper' (hours), Sun et al.'s protocol "
                          "'authors-quick' (minutes) or 'authors-full' (GPU or cluster), "
                          "or a JSON grid file")
    run.add_argument("--data", nargs="+", metavar="PATH",
                     help=".npz with X, golden, groups (and optionally X_test, "
                          "golden_test, groups_test), .parquet, or a scored-responses "
                          ".jsonl(.gz) such as arena-bench (embedded offline); or embedding "
                          "files (.npy/.npz) in the paper authors' layout: EMBEDDINGS REWARDS "
                          "[TEST_EMBEDDINGS TEST_REWARDS]; default: the synthetic testbed")
    run.add_argument("--layout", default="prompts_first",
                     choices=["prompts_first", "responses_first"],
                     help="axis order of embedding files: (n_prompts, n_responses, d) "
                          "(default) or (n_responses, n_prompts, d)")
    run.add_argument("--rewards-layout", default="auto",
                     choices=["auto", "prompts_first", "responses_first"],
                     help="axis order of reward files (default: told from their shape)")
    run.add_argument("--output", default="skreward-results", help="results folder")
    run.add_argument("--n-jobs", type=int, default=-1,
                     help="cells run at once (joblib; default -1: one per core, each with one "
                          "torch thread, which suits small networks best)")
    run.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                     help="where BT-MLP and CLF-MLP train (default cpu; cuda needs a GPU)")
    run.add_argument("--fresh", action="store_true",
                     help="start afresh: move the earlier run's results, manifest, report and "
                          "figures in the output folder into OUTPUT/replaced-<date>-<time>/ "
                          "(without it, a folder whose results came from other data or "
                          "settings is refused)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    report = commands.add_parser("report", help="write report.md and figures from results.csv")
    report.add_argument("--output", default="skreward-results", help="results folder")
    from ..serve import add_parser as add_serve_parser
    add_serve_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "serve":
        from ..serve import main as serve_main
        return serve_main(args, parser)

    from . import findings, run_experiments, write_report
    from ._report import results_frame

    try:
        if args.command == "run":
            run_experiments(args.grid, data=_data(args), output=args.output, n_jobs=args.n_jobs,
                            progress=not args.no_progress, fresh=args.fresh,
                            device=args.device)
        path = write_report(args.output)
    except (ValueError, OSError) as error:  # bad input or an unusable path: one line, no traceback
        parser.exit(2, f"skreward: error: {error}\n")
    print(f"report: {path}")
    print("\n".join(f"- {line}" for line in findings(results_frame(args.output))))
    return 0


def _data(args):
    """``--data``: one file of items, or embedding files (see ``load_embedding_arrays``)."""
    if args.data is None or len(args.data) == 1:
        return args.data and args.data[0]
    if len(args.data) not in (2, 4):
        raise ValueError(f"--data takes one file of items, or embedding files EMBEDDINGS REWARDS "
                         f"[TEST_EMBEDDINGS TEST_REWARDS]; got {len(args.data)} paths.")
    from ..datasets import load_embedding_arrays

    test = dict(zip(("test_embeddings", "test_rewards"), args.data[2:]))
    return load_embedding_arrays(*args.data[:2], **test, layout=args.layout,
                                 rewards_layout=args.rewards_layout)


if __name__ == "__main__":
    sys.exit(main())
