"""The evaluation guide's search: reward models x annotation quality x pairing, scored by Best-of-N."""

import numpy as np
import pytest
import sklearn
from lightgbm import LGBMClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from skreward import (BestOfNScorer, OrderConsistentClassifier, PairwiseTransformer,
                      SimulatedAnnotator)
from skreward.datasets import make_preference_testbed
from skreward.metrics import order_consistency_scorer

CLF_LGB = OrderConsistentClassifier(LGBMClassifier(n_estimators=40, num_leaves=15, verbose=-1,
                                                   random_state=0, n_jobs=1))
LINEAR_BT = make_pipeline(PairwiseTransformer("difference"), LogisticRegression(fit_intercept=False))


@pytest.fixture(scope="module")
def data():
    return make_preference_testbed(n_prompts=150, n_responses=8, random_state=0)


@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


class RecordingScorer(BestOfNScorer):
    """Best-of-N scorer that records the prompts of every test fold it scores."""

    seen = []

    def __call__(self, estimator, X, y, groups=None):
        RecordingScorer.seen.append(frozenset(np.asarray(groups).tolist()))
        return super().__call__(estimator, X, y, groups=groups)


def test_small_design_grid_routes_groups_and_ranks_beta(data, routing):
    RecordingScorer.seen = []
    search = GridSearchCV(
        SimulatedAnnotator(CLF_LGB, n_pairs=1500, random_state=0),
        {"estimator": [LINEAR_BT, CLF_LGB], "beta": [0.1, 10.0],
         "pairing": ["same_prompt", "cross_prompt"]},
        scoring=RecordingScorer(n=8), cv=GroupKFold(3), error_score="raise",
    ).fit(data.X, data.golden, groups=data.groups)

    test_folds = {frozenset(data.groups[test].tolist())
                  for _, test in GroupKFold(3).split(data.X, groups=data.groups)}
    assert len(RecordingScorer.seen) == 8 * 3 and set(RecordingScorer.seen) == test_folds

    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all()
    params = search.cv_results_["params"]
    for model in (LINEAR_BT, CLF_LGB):
        for pairing in ("same_prompt", "cross_prompt"):
            by_beta = {p["beta"]: s for p, s in zip(params, scores)
                       if p["estimator"] is model and p["pairing"] == pairing}
            assert by_beta[10.0] > by_beta[0.1] + 0.05, (model, pairing, by_beta)
    assert search.best_params_["beta"] == 10.0


def test_design_user_code_runs(data, routing):
    search = GridSearchCV(
        SimulatedAnnotator(CLF_LGB, n_pairs=1000),
        {"estimator": [CLF_LGB], "beta": [10.0], "pairing": ["cross_prompt"]},
        scoring=BestOfNScorer(n=8), cv=GroupKFold(2),
    ).fit(data.X, data.golden, groups=data.groups)
    assert search.best_estimator_.decision_function(data.X_test).shape == data.golden_test.shape
    assert 0 < search.best_estimator_.annotation_error_rate_ < 0.1


def test_without_routing_fit_asks_for_groups(data):
    search = GridSearchCV(SimulatedAnnotator(CLF_LGB, n_pairs=500), {"beta": [1.0]},
                          scoring=BestOfNScorer(n=8), cv=GroupKFold(2), error_score="raise")
    with pytest.raises(ValueError, match="enable metadata routing"):
        search.fit(data.X, data.golden, groups=data.groups)


def test_without_routing_scorer_asks_for_groups(data):
    model = SimulatedAnnotator(CLF_LGB, n_pairs=500, pairing="cross_prompt")
    with pytest.raises(ValueError, match="BestOfNScorer needs the prompt groups"):
        cross_val_score(model, data.X, data.golden, cv=GroupKFold(2), groups=data.groups,
                        scoring=BestOfNScorer(n=8), error_score="raise")


def test_scorer_rejects_single_candidate_prompts_and_large_n(data):
    model = SimulatedAnnotator(CLF_LGB, n_pairs=500, random_state=0).fit(
        data.X, data.golden, groups=data.groups)
    one_each = np.arange(20)
    with pytest.raises(ValueError, match="at least two candidates per prompt"):
        BestOfNScorer(n=None)(model, data.X[:20], data.golden[:20], groups=one_each)
    with pytest.raises(ValueError, match="n=16 is larger than the candidates"):
        BestOfNScorer(n=16)(model, data.X, data.golden, groups=data.groups)


def test_scorer_averages_over_several_n(data):
    model = SimulatedAnnotator(CLF_LGB, n_pairs=1000, beta=10, random_state=0).fit(
        data.X, data.golden, groups=data.groups)
    args = (model, data.X_test, data.golden_test)
    kwargs = {"groups": data.groups_test}
    both = BestOfNScorer(n=[4, 16])(*args, **kwargs)
    assert both == pytest.approx((BestOfNScorer(n=4)(*args, **kwargs)
                                  + BestOfNScorer(n=16)(*args, **kwargs)) / 2)
    assert 0 < BestOfNScorer(n=16, metric="oracle_fraction")(*args, **kwargs) < 1


def test_annotator_validates_its_settings(data):
    with pytest.raises(ValueError, match="'pairing' parameter of SimulatedAnnotator must be"):
        SimulatedAnnotator(CLF_LGB, pairing="random").fit(data.X, data.golden, groups=data.groups)
    with pytest.raises(ValueError, match="n_pairs=100000 is larger than the"):
        SimulatedAnnotator(CLF_LGB, n_pairs=100_000).fit(data.X, data.golden, groups=data.groups)
    with pytest.raises(ValueError, match="groups must have one prompt id per item"):
        SimulatedAnnotator(CLF_LGB).fit(data.X, data.golden, groups=data.groups[:5])


def test_order_consistency_scorer_on_real_style_comparisons(data):
    from skreward import simulate_comparisons
    sim = simulate_comparisons(data.golden, data.groups, n_pairs=2000, beta=10, random_state=0)
    X = sim.take(data.X)
    chosen_first = np.where(sim.y[:, None, None] == 1, X, X[:, ::-1])
    search = GridSearchCV(CLF_LGB, {"estimator__n_estimators": [5, 40]},
                          scoring=order_consistency_scorer, cv=3).fit(chosen_first)
    assert search.cv_results_["mean_test_score"].min() > 0.6


def test_n_jobs_2(data, routing):
    search = GridSearchCV(SimulatedAnnotator(CLF_LGB, n_pairs=800, random_state=0),
                          {"beta": [0.1, 10.0]}, scoring=BestOfNScorer(n=8),
                          cv=GroupKFold(2), n_jobs=2, error_score="raise")
    search.fit(data.X, data.golden, groups=data.groups)
    assert search.best_params_ == {"beta": 10.0}


@pytest.mark.slow
def test_dask_backend_runs_the_same_search(data, routing):
    distributed = pytest.importorskip("distributed")
    import joblib
    grid = {"beta": [0.1, 10.0], "pairing": ["same_prompt", "cross_prompt"]}

    def search():
        return GridSearchCV(SimulatedAnnotator(CLF_LGB, n_pairs=800, random_state=0), grid,
                            scoring=BestOfNScorer(n=8), cv=GroupKFold(2), n_jobs=-1,
                            error_score="raise").fit(data.X, data.golden, groups=data.groups)

    local = search().cv_results_["mean_test_score"]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster), joblib.parallel_config(backend="dask"):
        remote = search().cv_results_["mean_test_score"]
    np.testing.assert_allclose(remote, local)
