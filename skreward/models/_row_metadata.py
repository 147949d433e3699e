"""Per-row metadata of the neural reward models' loss (``sample_weight``, ``margin``).

skorch (1.4) with scikit-learn's metadata routing enabled hands
``get_split_datasets`` only the metadata routed to its ``train_split``; the
rest of ``fit``'s metadata goes to the module's forward pass. The loss's
per-row values must reach the dataset either way: this mixin keeps them
while ``fit_loop`` runs, so that :class:`~skreward.models._nets.RewardNet`
builds the same dataset with routing on or off.
"""

from sklearn.utils.metadata_routing import _routing_enabled

ROW_PARAMS = ("sample_weight", "margin")


class RowMetadataMixin:
    """``sample_weight`` and ``margin`` reach ``get_split_datasets`` with routing on or off."""

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        if not _routing_enabled():
            return super().fit_loop(X, y, epochs, **fit_params)
        self._routed_rows = {k: fit_params[k] for k in ROW_PARAMS if k in fit_params}
        try:
            return super().fit_loop(X, y, epochs, **fit_params)
        finally:
            del self._routed_rows

    def _row_params(self, **given):
        """The per-row metadata of this fit: as skorch passed it, or as ``fit`` received it."""
        routed = self.__dict__.get("_routed_rows")
        return given if routed is None else {**given, **routed}

    def _check_margin(self, margin, n_rows):
        """Per-row margins as an array; only a model with a margin in its loss takes them."""
        raise ValueError(f"{type(self).__name__} takes no margin: a margin shifts a "
                         "comparison's reward difference, which only BTRegressor's loss has.")
