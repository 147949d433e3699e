"""Per-row metadata of the neural reward models' loss and hold-out (``sample_weight``,
``margin``, ``groups``).

skorch (1.4) with scikit-learn's metadata routing enabled hands
``get_split_datasets`` only the metadata routed to its ``train_split``; the
rest of ``fit``'s metadata goes to the module's forward pass. The loss's
per-row values must reach the dataset either way: this mixin keeps them
while ``fit_loop`` runs, so that :class:`~skreward.models._nets.RewardNet`
builds the same dataset with routing on or off.
"""

from sklearn.utils.metadata_routing import _routing_enabled

ROW_PARAMS = ("sample_weight", "margin", "groups")


class RowMetadataMixin:
    """``sample_weight``, ``margin`` and ``groups`` reach ``get_split_datasets``, routing on or off."""

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        if not _routing_enabled():
            return super().fit_loop(X, y, epochs, **fit_params)
        self._routed_rows = {k: fit_params[k] for k in ROW_PARAMS if k in fit_params}
        # groups only place rows in the hold-out: not metadata that skorch would route.
        fit_params.pop("groups", None)
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
