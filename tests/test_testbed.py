import numpy as np
import pytest

from skreward.datasets import make_preference_testbed


def test_shapes_groups_and_seed():
    a = make_preference_testbed(n_prompts=30, n_responses=5, n_test_prompts=4, n_candidates=20,
                                n_features=12, n_latent=4, random_state=1)
    b = make_preference_testbed(n_prompts=30, n_responses=5, n_test_prompts=4, n_candidates=20,
                                n_features=12, n_latent=4, random_state=1)
    assert a.X.shape == (150, 12) and a.X_test.shape == (80, 12)
    assert np.bincount(a.groups).tolist() == [5] * 30
    assert set(a.groups_test) == set(range(30, 34))
    np.testing.assert_array_equal(a.golden_test, b.golden_test)


def test_response_spread_controls_within_prompt_differences():
    def within_prompt_std(spread):
        d = make_preference_testbed(n_prompts=200, response_spread=spread, random_state=0)
        return np.mean([d.golden[d.groups == g].std() for g in range(200)])
    assert within_prompt_std(0.1) < 0.5 * within_prompt_std(0.5)


def test_prompt_offset_shifts_whole_prompts_only():
    a = make_preference_testbed(n_prompts=200, prompt_offset=0.0, random_state=0)
    b = make_preference_testbed(n_prompts=200, prompt_offset=2.0, random_state=0)
    diff = b.golden - a.golden
    np.testing.assert_allclose(diff, np.repeat(diff[::10], 10))  # constant within a prompt
    assert diff.std() > 0.5 * a.golden.std()


def test_bad_sizes_raise():
    with pytest.raises(ValueError,
                       match=r"'n_responses' parameter .* must be an int in the range \[1, inf\)"):
        make_preference_testbed(n_responses=0)
    with pytest.raises(ValueError, match="n_features must be at least n_latent=16"):
        make_preference_testbed(n_features=8)
