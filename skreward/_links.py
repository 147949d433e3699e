"""Link functions of preference models: ``P(a preferred to b) = link(r(a) - r(b))``.

The one definition shared by the simulated annotator (which draws labels
through a link) and the Bradley-Terry model (which is fitted through one).
"""

from scipy.special import expit, ndtr

#: name -> CDF: ``logistic`` is Bradley-Terry, ``probit`` is Thurstone.
LINKS = {"logistic": expit, "probit": ndtr}
