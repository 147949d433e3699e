"""skorch machinery shared by the neural reward models (BT-MLP and CLF-MLP).

Everything here customises skorch through its hooks (``initialize_module``,
``check_data``, ``get_dataset``, ``get_split_datasets``, ``get_iterator``,
``train_step_single``, ``on_train_begin``); ``fit`` is skorch's own.
"""

import inspect
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.model_selection import ShuffleSplit
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_parameter_constraints
from skorch.callbacks import EarlyStopping, EpochTimer, PassthroughScoring, PrintLog
from skorch.dataset import Dataset as SkorchDataset
from skorch.utils import is_dataset, to_device, to_numpy
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, Subset

from ._modules import RewardMLP

# Independent sources of randomness, each seeded from ``random_state``.
_INIT, _SPLIT, _SHUFFLE, _TRAIN = range(4)

NET_PARAMETER_CONSTRAINTS = {
    "center_rewards_coef": [Interval(Real, 0, None, closed="left")],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
    "patience": [Interval(Integral, 1, None, closed="left"), None],
    "random_state": ["random_state"],
    "device": [str, torch.device, None],
}


class ArrayDataset(torch.utils.data.Dataset):
    """In-memory tensors; a slice, index tensor or list fetches a whole batch at once."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            index = torch.as_tensor(index)
        return self.X[index], self.y[index]

    def take(self, indices):
        indices = torch.as_tensor(indices)
        return ArrayDataset(self.X[indices], self.y[indices])


class _Slices:
    """Sampler of consecutive batches as slices: in-order batches are views, not copies."""

    def __init__(self, n, batch_size, drop_last=False):
        self.n, self.batch_size, self.drop_last = n, batch_size, drop_last

    def __iter__(self):
        stop = self.n - self.n % self.batch_size if self.drop_last else self.n
        for start in range(0, stop, self.batch_size):
            yield slice(start, min(start + self.batch_size, stop))

    def __len__(self):
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)


class _ShuffledSlices:
    """Sampler of shuffled batches as index tensors: one permutation per epoch, no lists."""

    def __init__(self, n, batch_size, drop_last=False, generator=None):
        self.slices = _Slices(n, batch_size, drop_last)
        self.generator = generator

    def __iter__(self):
        order = torch.randperm(self.slices.n, generator=self.generator)
        for batch in self.slices:
            yield order[batch]

    def __len__(self):
        return len(self.slices)


def float32_input(original, checked):
    """The validated items as float32: ``original`` itself when it already is, saving a copy."""
    if isinstance(original, np.ndarray) and original.dtype == np.float32 and original.ndim == 2:
        return original
    return checked


def _gathers_batches(dataset):
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return isinstance(dataset, ArrayDataset)


def _takes_n_features(module):
    """Whether ``module`` is a class (or factory) with an ``n_features`` argument."""
    if isinstance(module, torch.nn.Module) or not callable(module):
        return False
    try:
        return "n_features" in inspect.signature(module).parameters
    except (TypeError, ValueError):
        return False


def _may_draw_random_numbers(module):
    """False only for a RewardMLP without dropout; other modules may hold random layers."""
    if not isinstance(module, RewardMLP):
        return True
    return any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in module.modules())


def check_device(device):
    """Raise a clear error for a CUDA device on a machine (or torch build) without one."""
    if device is None:
        return
    try:
        device = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:<index>'; got {device!r}.") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={str(device)!r} was requested, but torch {torch.__version__} sees no CUDA "
            "GPU (torch.cuda.is_available() is False). Use device='cpu', or run on a machine "
            "with a GPU and a CUDA build of torch."
        )


@contextmanager
def _seeded_cpu_rng(seed):
    """Draw from torch's CPU generator seeded with ``seed``, leaving the global state as it was."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        yield


class ScoringNetMixin:
    """What BTRegressor and RewardMLPClassifier share on top of skorch's NeuralNet.

    * the module is sized from the data (``n_features`` of a module class that
      takes it), so nets need no input width up front;
    * ``random_state`` seeds weight initialisation, the validation split, the
      batch order and dropout, without touching torch's global generators;
    * batches of in-memory arrays are gathered with one indexing operation
      (not item by item and collated, as skorch's default dataset does);
    * ``validation_fraction`` holds out a seeded split, monitored by early
      stopping with ``patience`` that restores the best weights.
    """

    # -- parameters ---------------------------------------------------------------

    def check_training_readiness(self):
        super().check_training_readiness()
        validate_parameter_constraints(
            self._parameter_constraints,
            {name: getattr(self, name) for name in self._parameter_constraints},
            caller_name=type(self).__name__,
        )

    def _seed(self, purpose):
        """Seed of one source of randomness, derived from ``random_state``; None if unseeded."""
        if self.random_state is None:
            return None
        seeds = check_random_state(self.random_state).randint(np.iinfo(np.int32).max, size=4)
        return int(seeds[purpose])

    @property
    def _validates(self):
        return self.train_split is not None or self.validation_fraction is not None

    @property
    def _default_callbacks(self):
        callbacks = [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
        ]
        if self._validates:
            callbacks.append(("valid_loss", PassthroughScoring(name="valid_loss")))
            if self.patience is not None:
                callbacks.append(("early_stopping",
                                  EarlyStopping(patience=self.patience, load_best=True)))
        callbacks.append(("print_log", PrintLog()))
        return callbacks

    # -- module -------------------------------------------------------------------

    def initialize_module(self):
        """Build the module, sized for the data's ``n_features`` and seeded by ``random_state``."""
        check_device(self.device)
        kwargs = self.get_params_for("module")
        width = None
        if "n_features" not in kwargs and _takes_n_features(self.module):
            # Before any data is seen (skorch initialises before fit's first look
            # at X) a width-1 placeholder; check_data rebuilds it for the data.
            width = getattr(self, "n_features_in_", 1)
            kwargs["n_features"] = width
        with _seeded_cpu_rng(self._seed(_INIT)):
            self.module_ = self.initialized_instance(self.module, kwargs)
        self._sized_for_ = width
        return self

    def _size_module(self, n_features):
        """Make the module take ``n_features`` inputs; called by ``check_data``."""
        given = self.get_params_for("module").get("n_features")
        if given is not None and given != n_features:
            raise ValueError(
                f"X has {n_features} features, but module__n_features={given}."
            )
        sized_for = getattr(self, "_sized_for_", None)
        if sized_for is not None and sized_for != n_features:
            if len(self.history_):
                raise ValueError(
                    f"X has {n_features} features, but the net was trained on {sized_for} "
                    "features; fit (without warm_start) to start afresh."
                )
            self.n_features_in_ = n_features
            self.initialize_module()
            self.module_ = self.torch_compile(to_device(self.module_, self.device), name="module")
            self.initialize_optimizer()
        self.n_features_in_ = n_features

    @staticmethod
    def _dataset_width(dataset):
        return int(np.shape(dataset[0][0])[-1])

    # -- data ---------------------------------------------------------------------

    def get_dataset(self, X, y=None):
        """In-memory float32 tensors that batch by one gather; a Dataset passes through."""
        if is_dataset(X) or self.dataset is not SkorchDataset:
            return super().get_dataset(X, y)
        X = np.ascontiguousarray(X, dtype=np.float32)
        if not X.flags.writeable:  # e.g. joblib's read-only memmaps: torch wants its own copy
            X = X.copy()
        X = torch.from_numpy(X)
        return ArrayDataset(X, torch.from_numpy(self._targets(X, y)))

    def get_split_datasets(self, X, y=None, **fit_params):
        """Hold out a seeded ``validation_fraction``, unless ``train_split`` is given."""
        if self.train_split is not None or self.validation_fraction is None:
            return super().get_split_datasets(X, y, **fit_params)
        dataset = self.get_dataset(X, y)
        split = ShuffleSplit(n_splits=1, test_size=self.validation_fraction,
                             random_state=self._seed(_SPLIT))
        train, valid = next(split.split(np.zeros((len(dataset), 1))))
        if isinstance(dataset, ArrayDataset):
            return dataset.take(train), dataset.take(valid)
        return Subset(dataset, train), Subset(dataset, valid)

    def get_iterator(self, dataset, training=False):
        """Batches by index lists; training batches are shuffled (seeded by ``random_state``).

        ``iterator_train__*`` / ``iterator_valid__*`` settings of the
        ``DataLoader`` apply (``shuffle``, ``drop_last``, ``generator``,
        ``num_workers``, ...). A custom iterator, dataset, ``sampler`` or
        ``collate_fn`` gets skorch's default behaviour.
        """
        name = "iterator_train" if training else "iterator_valid"
        kwargs = self.get_params_for(name)
        if (getattr(self, name) is not DataLoader or not _gathers_batches(dataset)
                or kwargs.keys() & {"sampler", "batch_sampler", "collate_fn"}):
            return super().get_iterator(dataset, training=training)
        batch_size = kwargs.pop("batch_size", self.batch_size)
        if batch_size == -1:
            batch_size = len(dataset)
        generator = kwargs.pop("generator", None)
        seed = self._seed(_SHUFFLE)
        if generator is None and seed is not None:
            # Also keeps DataLoader from drawing its base seed from torch's global generator.
            generator = torch.Generator().manual_seed(seed)
        drop_last = kwargs.pop("drop_last", False)
        if kwargs.pop("shuffle", training):
            if isinstance(dataset, ArrayDataset):
                batches = _ShuffledSlices(len(dataset), batch_size, drop_last, generator)
            else:  # a Subset's indices may be a list, which index tensors cannot index
                batches = BatchSampler(RandomSampler(dataset, generator=generator), batch_size,
                                       drop_last=drop_last)
        else:
            batches = _Slices(len(dataset), batch_size, drop_last=drop_last)
        return DataLoader(dataset, batch_size=None, sampler=batches, generator=generator, **kwargs)

    # -- training randomness ------------------------------------------------------

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        seed = self._seed(_TRAIN)
        self._train_rng_ = None
        if seed is not None and _may_draw_random_numbers(self.module_):
            device = self._rng_device()
            self._train_rng_ = torch.Generator(device=device).manual_seed(seed).get_state()

    def on_train_end(self, net, X=None, y=None, **kwargs):
        super().on_train_end(net, X=X, y=y, **kwargs)
        self._train_rng_ = None

    def _rng_device(self):
        device = torch.device(self.device or "cpu")
        if device.type != "cuda":
            return torch.device("cpu")
        index = device.index if device.index is not None else torch.cuda.current_device()
        return torch.device("cuda", index)

    def train_step_single(self, batch, **fit_params):
        """skorch's step, drawing dropout noise from the net's own seeded stream."""
        state = getattr(self, "_train_rng_", None)
        if state is None:
            return super().train_step_single(batch, **fit_params)
        device = self._rng_device()
        if device.type == "cuda":
            with torch.random.fork_rng(devices=[device.index], device_type="cuda"):
                torch.cuda.set_rng_state(state, device.index)
                step = super().train_step_single(batch, **fit_params)
                self._train_rng_ = torch.cuda.get_rng_state(device.index)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.set_rng_state(state)
                step = super().train_step_single(batch, **fit_params)
                self._train_rng_ = torch.get_rng_state()
        return step

    # -- prediction ---------------------------------------------------------------

    def _forward_numpy(self, X):
        """Module outputs for validated ``X``, one batch of activations at a time."""
        outputs = [to_numpy(out) for out in self.forward_iter(X, training=False)]
        return np.concatenate(outputs).astype(np.float64, copy=False)
