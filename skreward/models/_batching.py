"""Batches of in-memory arrays for the neural reward models, gathered in one indexing operation.

skorch's default dataset fetches rows one by one and collates them; a batch
here is one slice (in order) or one index tensor (shuffled) of the tensors.
"""

import numpy as np
import torch
from torch.utils.data import Subset


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


class Slices:
    """Sampler of consecutive batches as slices: in-order batches are views, not copies."""

    def __init__(self, n, batch_size, drop_last=False):
        self.n, self.batch_size, self.drop_last = n, batch_size, drop_last

    def __iter__(self):
        stop = self.n - self.n % self.batch_size if self.drop_last else self.n
        for start in range(0, stop, self.batch_size):
            yield slice(start, min(start + self.batch_size, stop))

    def __len__(self):
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)


class ShuffledSlices:
    """Sampler of shuffled batches as index tensors: one permutation per epoch, no lists."""

    def __init__(self, n, batch_size, drop_last=False, generator=None):
        self.slices = Slices(n, batch_size, drop_last)
        self.generator = generator

    def __iter__(self):
        order = torch.randperm(self.slices.n, generator=self.generator)
        for batch in self.slices:
            yield order[batch]

    def __len__(self):
        return len(self.slices)


def gathers_batches(dataset):
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return isinstance(dataset, ArrayDataset)


class PredictionRows(ArrayDataset):
    """Rows to score, as given: a batch is made float32 (a view if it already is) when fetched."""

    def __init__(self, X):
        super().__init__(X, None)

    def __getitem__(self, index):
        rows = np.ascontiguousarray(self.X[index], dtype=np.float32)
        if not rows.flags.writeable:  # e.g. a read-only memmap: torch wants writable memory
            rows = rows.copy()
        return torch.from_numpy(rows), None
