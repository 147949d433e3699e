"""Sphinx configuration of the skreward documentation.

Build it with ``python -m sphinx -W -b html docs docs/_build/html`` from the
repository root. The API reference is generated from the ``__all__`` of each
public module (see ``write_api_index``), so a new public object appears
without editing these files.
"""

import ast
import fnmatch
import importlib
import inspect
import os
import re
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import skreward  # noqa: E402

project = "skreward"
author = "the skreward developers"
copyright = "the skreward developers"
version = release = skreward.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 served from _static: no CDN needed
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints",
                    "auto_examples/*.ipynb", "auto_examples/*.py", "conftest.py"]
default_role = "literal"
pygments_style = "sphinx"

# -- cross-references ----------------------------------------------------------
# Every reference to our own objects must resolve. Other projects' inventories
# cannot be fetched offline (no intersphinx), so their names are accepted as
# plain text.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(sklearn|numpy|np|scipy|torch|skorch|pandas|lightgbm|joblib|dask|ray|"
               r"sentence_transformers|matplotlib|pathlib|os|collections|typing)(\..*)?"),
    (r"py:.*", r"(Bunch|Path|DataFrame|ndarray|RandomState|dataclass)"),
]

# -- autodoc, autosummary, numpydoc -----------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"
# Signatures show defaults as written (`module=RewardMLP`, not a class repr): done by
# show_written_defaults below, which also reads merged signatures.
autodoc_preserve_defaults = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- sphinx-gallery --------------------------------------------------------------
# The examples in FAST_EXAMPLES are executed at every build (CI included) and
# shown with their output; the others are shown as code. Keep executed ones well
# under a minute on 2 cores (single-threaded LightGBM: threads stall on a busy
# machine). SKREWARD_GALLERY_RUN=. executes them all (a regex on the path).
FAST_EXAMPLES = ["plot_best_of_n.py"]
GALLERY_RUN = os.environ.get(
    "SKREWARD_GALLERY_RUN", "/(" + "|".join(re.escape(name) for name in FAST_EXAMPLES) + ")$")
sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": GALLERY_RUN,
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("skreward",),
    "reference_url": {"skreward": None},
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    "write_computation_times": False,  # times are printed in the build log instead
    "default_thumb_file": None,
}

# -- HTML --------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skreward {version}"
html_static_path = ["_static"]
html_css_files = ["skreward.css"]
html_show_sourcelink = False
html_copy_source = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "comparison": [], "install": [], "architecture": [],
                 "changelog": []}


# -- the API reference, generated from __all__ -------------------------------------
API_MODULES = {
    "skreward": [
        ("Reward models", ["OrderConsistentClassifier", "BTRegressor", "RewardMLPClassifier",
                           "RewardMLP", "LengthControlledReward", "RewardEnsemble",
                           "TieAwareBTRegressor"]),
        ("Comparisons to features", ["PairwiseTransformer"]),
        ("Simulated annotation", ["SimulatedAnnotator", "simulate_comparisons",
                                  "SimulatedComparisons"]),
        ("Unpaired feedback", ["FeedbackClassifier", "simulate_feedback", "SimulatedFeedback"]),
        ("Rankings", ["PlackettLuceRegressor", "ranking_to_pairs", "simulate_rankings",
                      "SimulatedRankings"]),
        ("Model selection", ["BestOfNScorer"]),
        ("Calibration", ["CalibratedReward"]),
        ("Saving and loading", ["save", "load", "read_card", "trusted_types"]),
        ("Reranking", ["rerank", "rerank_table", "score_texts", "RerankResult"]),
        ("Text", ["SentenceEmbedder", "LLMEmbedder", "TextVectorizer", "EmbeddingCache"]),
        ("Preference data in TRL's formats", ["normalize_preferences", "preference_targets",
                                              "render_conversation"]),
    ],
    # The documented homes of the reward models and the text front ends: their objects
    # are documented once, above, and listed under "Also here".
    "skreward.models": [("Training several networks at once", ["fit_stacked", "can_stack"])],
    "skreward.text": [],
    "skreward.metrics": [
        ("Best-of-N", ["best_of_n_score", "best_of_n_report", "best_of_n_curve"]),
        ("Order consistency", ["order_consistency_score", "order_consistency_scorer",
                               "prompt_spearman_score"]),
        ("Length bias", ["length_correlation", "response_lengths"]),
    ],
    "skreward.datasets": [
        ("Synthetic data", ["make_preference_testbed"]),
        ("Loaders of local files", ["load_hh_rlhf", "load_scored_responses", "load_preferences"]),
        ("Embedding arrays", ["load_embedding_arrays"]),
    ],
    "skreward.serve": [("The reward server", ["create_app"])],
    "skreward.active": [
        ("Selecting pairs", ["select_pairs", "reward_features", "STRATEGIES"]),
        ("Experiments with a golden reward", ["ActiveAnnotator", "simulate_active_annotation",
                                              "ActiveRound"]),
    ],
    "skreward.experiments": [
        ("Running and reporting", ["run_experiments", "write_report", "findings", "load_grid"]),
        ("Constants", ["MODELS", "PRESETS"]),
    ],
    # A name with ``*`` is a pattern: the public names it matches, in ``__all__`` order.
    "skreward.utils.estimator_checks": [
        ("Running the checks", ["parametrize_with_checks", "estimator_checks_generator",
                                "check_reward_model"]),
        ("Checks of reward models", ["check_reward_model_*"]),
        ("Checks of comparison transformers", ["check_comparison_transformer_*"]),
        ("Checks of text front ends", ["check_text_transformer_*"]),
        ("Checks of any estimator", ["check_clone_keeps_params"]),
        ("Constants", ["SKLEARN_CHECKS_REPLACED", "REWARD_RTOL", "FLOAT32_RTOL"]),
    ],
}


def _api_sections(modname, documented):
    """(title, names) of a module: the sections above, then any other public name."""
    module = importlib.import_module(modname)
    public = [n for n in module.__all__ if f"skreward.{n}" not in documented
              or modname == "skreward"]
    sections, placed = [], set()
    for title, patterns in API_MODULES.get(modname, []):
        names = [n for pattern in patterns for n in public
                 if fnmatch.fnmatchcase(n, pattern) and n not in placed]
        names = list(dict.fromkeys(names))
        placed.update(names)
        if names:
            sections.append((title, names))
    rest = sorted(n for n in public if n not in placed)
    if rest:
        sections.append(("Other", rest))
    return module, sections


def write_api_index():
    """Write ``api/index.rst``: one autosummary table per section of each module."""
    lines = [".. _api:", "", "API reference", "=============", "",
             "Every public object of skreward, with its parameters and a runnable example.",
             "The reference is generated from each module's ``__all__`` and the objects'",
             "numpydoc docstrings; the examples are run as doctests by ``pytest``.", ""]
    documented = set()
    for modname in API_MODULES:
        module, sections = _api_sections(modname, documented)
        lines += [f"``{modname}``", "-" * (len(modname) + 4), "",
                  f".. automodule:: {modname}", "",
                  f".. currentmodule:: {modname}", ""]
        if modname != "skreward":
            also = [n for n in module.__all__ if f"skreward.{n}" in documented]
            if also:
                lines += [f"Also here: {', '.join(f':class:`~skreward.{n}`' for n in also)}.", ""]
        for title, names in sections:
            lines += [title, "~" * len(title), "",
                      ".. autosummary::", "   :toctree: generated/", "   :nosignatures:", ""]
            lines += [f"   {name}" for name in names] + [""]
            documented.update(f"{modname}.{n}" for n in names)
    text = "\n".join(lines)
    path = HERE / "api" / "index.rst"
    path.parent.mkdir(exist_ok=True)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)


write_api_index()


# -- a subpackage's path to a re-exported object leads to the object's page ---------
# An object re-exported by skreward is documented once, as ``skreward.<name>``, and
# listed under "Also here" by its subpackage. A reference by the subpackage's path
# (``skreward.text.SentenceEmbedder``, or ``SentenceEmbedder`` in the docstring of
# ``skreward.text``) resolves to that page.
REEXPORTED = {f"{modname}.{name}": f"skreward.{name}"
              for modname in API_MODULES if modname != "skreward"
              for name in importlib.import_module(modname).__all__
              if name in skreward.__all__}


def resolve_reexported(app, env, node, contnode):
    if node.get("refdomain") != "py" or node.get("refspecific"):
        return None
    target, module = node["reftarget"], node.get("py:module") or ""
    full = target if target.startswith("skreward.") else f"{module}.{target}"
    for path, documented in REEXPORTED.items():
        if full == path or full.startswith(path + "."):  # the object or one of its members
            return env.get_domain("py").resolve_xref(
                env, node["refdoc"], app.builder, node["reftype"],
                documented + full[len(path):], node, contnode)
    return None


# -- members: our own, plus the estimator protocol of inherited ones ---------------
# Inherited members of torch, skorch and scikit-learn base classes (dozens on a
# skorch net) would bury our methods and carry those projects' cross-references.
PROTOCOL = {"fit", "partial_fit", "predict", "predict_proba", "decision_function", "score",
            "transform", "fit_transform", "fit_resample", "get_params", "set_params",
            "forward"}


# skorch hooks that the nets override: implementation, not API (see the skorch docs
# to customise a net further).
SKORCH_HOOKS = {"check_data", "check_training_readiness", "get_dataset", "get_iterator",
                "get_loss", "get_split_datasets", "infer", "initialize_criterion",
                "initialize_module", "train_step_single", "on_train_begin"}


def skip_foreign_members(app, what, name, obj, skip, options):
    if what != "class" or skip or (name.startswith("_") and name != "__call__"):
        return None
    module = getattr(obj, "__module__", None) or getattr(getattr(obj, "fget", None),
                                                         "__module__", None) or ""
    if name in SKORCH_HOOKS:
        return True
    if module.split(".")[0] == "skreward" or name in PROTOCOL:
        return None
    return True


# -- signature defaults as written in the source ------------------------------------
# Sphinx's autodoc_preserve_defaults reads the defaults from the function's own source.
# A RewardNet subclass's ``__init__`` lists only the parameters it adds, and its
# ``__signature__`` adds the base's (``skreward/models/_net_template.py``): their
# defaults are in the base's source, which that option does not read (it fails).
class _Written:
    """A default shown as written in the source."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


def _written_defaults(func):
    """{parameter: default as written} of a function's source; {} if it cannot be read."""
    try:
        source = textwrap.dedent(inspect.getsource(func))
        node = ast.parse(source).body[0]
    except (OSError, TypeError, SyntaxError, IndexError):
        return {}
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return {}
    args = node.args
    positional = args.posonlyargs + args.args
    pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults))
    pairs += [(arg, d) for arg, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
    return {arg.arg: " ".join(ast.get_source_segment(source, d).split()) for arg, d in pairs}


def show_written_defaults(app, obj, bound_method):
    func = getattr(obj, "__func__", obj)
    if not (getattr(func, "__module__", None) or "").startswith("skreward"):
        return
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return
    sources = [func]
    owner = getattr(func, "__globals__", {}).get(func.__qualname__.split(".")[0])
    if func.__name__ == "__init__" and isinstance(owner, type):  # the base's too, if merged
        sources = [vars(cls)["__init__"] for cls in reversed(owner.__mro__)
                   if "__init__" in vars(cls)]
    written = {}
    for source in sources:
        written.update(_written_defaults(source))
    func.__signature__ = signature.replace(parameters=[
        p.replace(default=_Written(written[p.name]))
        if p.default is not p.empty and p.name in written else p
        for p in signature.parameters.values()])


_FOREIGN_ROLE = re.compile(r":(ref|term|doc):`(?:([^`<]*?)\s*<[^`>]*>|([^`]*))`")


# Module-level constants have no docstring of their own: autodoc would show the
# docstring of their type (tuple, dict). A ``#:`` comment in the source wins over these.
DATA_DOCS = {
    "skreward.experiments.MODELS": [
        "Names of the reward models that an experiment grid can name: BT-MLP",
        "(:class:`~skreward.BTRegressor`), CLF-MLP (:class:`~skreward.RewardMLPClassifier`",
        "in :class:`~skreward.OrderConsistentClassifier`), CLF-LGB (LightGBM in",
        ":class:`~skreward.OrderConsistentClassifier`) and BT-linear (logistic regression on",
        "differences, after :class:`~skreward.PairwiseTransformer`)."],
    "skreward.experiments.PRESETS": [
        "The grids that ``skreward run quick`` and ``skreward run paper`` run, in the format",
        "of :func:`~skreward.experiments.load_grid`."],
    "skreward.utils.estimator_checks.REWARD_RTOL": [
        "Where two fits should give the same model (comparisons in another order, items",
        "of every comparison swapped), their rewards must agree to this fraction of the",
        "largest reward."],
    "skreward.utils.estimator_checks.FLOAT32_RTOL": [
        "The rewards of a fit on float32 comparisons must agree with those of the",
        "float64 fit to this fraction of the largest reward."],
}


def unlink_foreign_docstrings(app, what, name, obj, options, lines):
    """Inherited docstrings of other projects point into their own docs: keep the text."""
    if what == "data" and "\n".join(lines).strip() == (inspect.getdoc(type(obj)) or "").strip():
        lines[:] = DATA_DOCS.get(name, [])
        return
    if (getattr(obj, "__module__", None) or "skreward").split(".")[0] != "skreward":
        lines[:] = [_FOREIGN_ROLE.sub(lambda m: m.group(2) or m.group(3), line) for line in lines]


def setup(app):
    app.connect("autodoc-skip-member", skip_foreign_members)
    app.connect("autodoc-process-docstring", unlink_foreign_docstrings, priority=400)
    app.connect("missing-reference", resolve_reexported)
    app.connect("autodoc-before-process-signature", show_written_defaults)
