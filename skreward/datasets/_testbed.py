"""A synthetic stand-in for LLM response embeddings scored by a golden reward model."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params

_COUNT = [Interval(Integral, 1, None, closed="left")]
_SCALE = [Interval(Real, 0, None, closed="left")]  # finite: NaN and inf are refused


@validate_params(
    {"n_prompts": _COUNT, "n_responses": _COUNT, "n_test_prompts": _COUNT,
     "n_candidates": _COUNT, "n_features": _COUNT, "n_latent": _COUNT,
     "response_spread": _SCALE, "prompt_offset": _SCALE, "embedding_noise": _SCALE,
     "random_state": ["random_state"]},
    prefer_skip_nested_validation=True,
)
def make_preference_testbed(n_prompts=1000, n_responses=10, *, n_test_prompts=50,
                            n_candidates=500, n_features=64, n_latent=16,
                            response_spread=0.5, prompt_offset=0.5, embedding_noise=0.1,
                            random_state=None):
    """Prompts with responses in an embedding space, scored by a known non-linear reward.

    The setting of Sun, Shen & Ton (2025), in miniature: an LLM embeds each
    (prompt, response) and a golden reward model scores it. Here a response
    is a latent point near its prompt's latent point; its embedding is a
    fixed random linear map of the latent point plus noise (embeddings are
    anisotropic and carry more than the reward); the golden reward is a
    fixed random one-hidden-layer tanh network of the latent point, so no
    linear model is exactly right, plus a per-prompt offset.

    Parameters
    ----------
    n_prompts : int, default=1000
        Training prompts.
    n_responses : int, default=10
        Responses per training prompt (the paper annotates 10 per prompt).
    n_test_prompts : int, default=50
        Held-out prompts for Best-of-N.
    n_candidates : int, default=500
        Responses per held-out prompt: Best-of-N works with any N up to it
        (the paper's N goes to 500).
    n_features : int, default=64
        Embedding width.
    n_latent : int, default=16
        Width of the latent space the reward depends on; the embedding
        spans it with ``n_features - n_latent`` further noise directions.
    response_spread : float, default=0.5
        How different the responses to one prompt are (latent standard
        deviation around the prompt, whose own is 1). Small values make
        same-prompt comparisons hard to tell apart: the regime where the paper
        finds cross-prompt comparisons help most.
    prompt_offset : float, default=0.5
        Standard deviation (in units of the reward network's) of a per-prompt
        reward offset that the embedding does not reveal, like a golden
        model's prompt-dependent scale. It leaves Best-of-N unchanged but
        makes cross-prompt comparisons noisier, so cross-prompt pairing is
        not favoured by construction.
    embedding_noise : float, default=0.1
        Standard deviation of isotropic noise added to every embedding.
    random_state : int, RandomState instance or None, default=None
        Seeds the reward network, the embedding map and the data.

    Returns
    -------
    data : Bunch
        ``X`` ``(n_prompts * n_responses, n_features)``, ``golden`` and
        ``groups`` (prompt ids) of the training items; ``X_test``,
        ``golden_test``, ``groups_test`` of the held-out candidates (prompt
        ids continue after the training ones).

    Examples
    --------
    >>> from skreward.datasets import make_preference_testbed
    >>> data = make_preference_testbed(n_prompts=20, n_responses=4, n_test_prompts=3,
    ...                                n_candidates=8, random_state=0)
    >>> data.X.shape, data.golden.shape, data.X_test.shape, sorted(set(data.groups_test.tolist()))
    ((80, 64), (80,), (24, 64), [20, 21, 22])
    """
    # ints from here on: numpy's integers and bools (which scikit-learn's Integral accepts) alike
    n_prompts, n_responses, n_test_prompts, n_candidates, n_features, n_latent = map(
        int, (n_prompts, n_responses, n_test_prompts, n_candidates, n_features, n_latent))
    if n_features < n_latent:
        raise ValueError(f"n_features must be at least n_latent={n_latent}; got {n_features}.")
    rng = check_random_state(random_state)
    hidden = 4 * n_latent
    W = rng.normal(scale=1.5 / np.sqrt(n_latent), size=(n_latent, hidden))
    w = rng.normal(size=hidden) / np.sqrt(hidden)
    embed, _ = np.linalg.qr(rng.normal(size=(n_features, n_features)))
    embed = embed[:, :n_latent] * np.sqrt(n_features / n_latent)

    def draw(n_groups, per_group, first_id):
        centre = rng.normal(size=(n_groups, n_latent))
        z = np.repeat(centre, per_group, 0) + response_spread * rng.normal(
            size=(n_groups * per_group, n_latent))
        network = np.tanh(z @ W) @ w
        offset = np.repeat(rng.normal(size=n_groups), per_group)
        golden = network + prompt_offset * network.std() * offset
        X = z @ embed.T + embedding_noise * rng.normal(size=(len(z), n_features))
        return X, golden, np.repeat(np.arange(first_id, first_id + n_groups), per_group)

    X, golden, groups = draw(n_prompts, n_responses, 0)
    X_test, golden_test, groups_test = draw(n_test_prompts, n_candidates, n_prompts)
    return Bunch(X=X, golden=golden, groups=groups, X_test=X_test,
                 golden_test=golden_test, groups_test=groups_test)
