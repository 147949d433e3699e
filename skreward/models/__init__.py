"""Reward models: fitted on comparisons ``(n_pairs, 2, n_features)``, scoring items.

* :class:`BTRegressor` - the Bradley-Terry model on a scoring network (BT-MLP);
* :class:`OrderConsistentClassifier` - any binary classifier's logit as the
  reward (CLF-LGB, CLF-MLP with :class:`RewardMLPClassifier`);
* :class:`FeedbackClassifier` - the classification reward model on unpaired
  feedback (a thumbs up or down per item);
* :class:`CalibratedReward` - a reward model's reward normalised, or calibrated
  to preference probabilities or golden rewards;
* :class:`LengthControlledReward` - a reward model's reward with its log-length
  part removed;
* :class:`RewardEnsemble` - several reward models as one, with their
  disagreement as uncertainty;
* :class:`TieAwareBTRegressor` - Bradley-Terry with ties (Davidson), one learned
  tie parameter;
* :class:`PlackettLuceRegressor` - the Plackett-Luce model on a scoring network,
  fitted on rankings of k items (k = 2: the Bradley-Terry model);
* :class:`PairwiseTransformer` - comparisons as rows for ordinary estimators;
* :class:`RewardMLP` - the scoring network the neural models share;
* :func:`fit_stacked` - several neural reward models of one architecture trained
  at once as one stacked network (:func:`can_stack` says whether they can be);
  these two functions live here only, not in :mod:`skreward`.

Every name is also importable from :mod:`skreward`.
"""

from ._bt import BTRegressor
from ._calibration import CalibratedReward
from ._classification import OrderConsistentClassifier
from ._feedback import FeedbackClassifier
from ._ensemble import RewardEnsemble
from ._length_control import LengthControlledReward
from ._mlp_classifier import RewardMLPClassifier
from ._modules import RewardMLP
from ._pairwise import PairwiseTransformer
from ._plackett_luce import PlackettLuceRegressor
from ._stacked import can_stack, fit_stacked
from ._ties import TieAwareBTRegressor

__all__ = [
    "BTRegressor",
    "CalibratedReward",
    "FeedbackClassifier",
    "LengthControlledReward",
    "OrderConsistentClassifier",
    "PairwiseTransformer",
    "PlackettLuceRegressor",
    "RewardEnsemble",
    "RewardMLP",
    "RewardMLPClassifier",
    "TieAwareBTRegressor",
    "can_stack",
    "fit_stacked",
]
