import numpy as np
import pytest
import torch

from skreward import simulate_comparisons
from skreward.datasets import make_preference_testbed


@pytest.fixture(scope="module")
def one_torch_thread():
    """Fit networks on one torch thread, restoring the setting after the module.

    The tests' networks are tiny: they train fastest on one thread, and the
    machine's other cores stay free. A module that fits networks uses it with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def testbed():
    """A small seeded testbed: 300 training prompts x 10 responses, 30 test prompts x 64."""
    return make_preference_testbed(n_prompts=300, n_test_prompts=30, n_candidates=64,
                                   random_state=0)


@pytest.fixture(scope="session")
def comparisons(testbed):
    """4,000 clean (beta=10) same-prompt comparisons of the testbed."""
    sim = simulate_comparisons(testbed.golden, testbed.groups, n_pairs=4000, beta=10,
                               random_state=0)
    return sim.take(testbed.X), sim.y


@pytest.fixture
def rng():
    return np.random.default_rng(0)
