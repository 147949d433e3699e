"""Small torch helpers of the neural reward models: module factories, devices, seeded draws."""

import inspect
from contextlib import contextmanager

import torch

from ._modules import RewardMLP


def takes_n_features(module):
    """Whether ``module`` is a class (or factory) with an ``n_features`` argument."""
    return not isinstance(module, torch.nn.Module) and callable(module) and accepts(
        module, "n_features")


def accepts(factory, argument):
    try:
        return argument in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False


def may_draw_random_numbers(module):
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
def seeded_cpu_rng(seed):
    """Draw from torch's CPU generator seeded with ``seed``, leaving the global state as it was."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        yield
