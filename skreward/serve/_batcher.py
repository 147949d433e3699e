"""An asyncio micro-batcher: concurrent requests scored in one forward pass of the model."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np


class MicroBatcher:
    """Queue requests of (prompt, response) items and score them together.

    While the model scores one batch (in a worker thread, so the event loop
    keeps accepting requests), new requests wait in the queue; the next
    batch takes all of them, up to ``max_batch_items`` items. A request
    never waits for company: ``max_wait_ms=0`` starts a batch as soon as the
    model is free. A batch that fails is scored again request by request,
    so one bad request fails alone. A request whose client has gone is
    dropped before it is scored.

    Parameters
    ----------
    score : callable
        ``score(prompts, responses) -> (rewards, uncertainty or None)``.
    max_batch_items : int
        Items per forward pass (a larger single request is scored whole).
    max_wait_ms : float
        How long a batch waits for more requests once the model is free.
    """

    def __init__(self, score, *, max_batch_items=256, max_wait_ms=0.0):
        self._score = score
        self.max_batch_items = max_batch_items
        self.max_wait_ms = max_wait_ms
        self._queue = self._task = self._executor = None
        self.n_batches = self.n_items = 0

    async def start(self):
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="skreward-model")
        self._task = asyncio.create_task(self._run())

    async def stop(self):
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, prompts, responses):
        """Rewards (and uncertainty) of the items of one request."""
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((list(prompts), list(responses), future))
        return await future

    async def _next_batch(self):
        batch = [await self._queue.get()]
        n = len(batch[0][0])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait_ms / 1000
        while n < self.max_batch_items:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), left)
                except asyncio.TimeoutError:
                    break
            batch.append(item)
            n += len(item[0])
        return [b for b in batch if not b[2].done()]  # cancelled: the client has gone

    async def _run(self):
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            if not batch:
                continue
            prompts = [p for b in batch for p in b[0]]
            responses = [r for b in batch for r in b[1]]
            try:
                rewards, std = await loop.run_in_executor(
                    self._executor, self._score, prompts, responses)
            except Exception:
                if len(batch) == 1:
                    await self._one(batch[0])
                else:  # find the request that failed; the others get their rewards
                    for item in batch:
                        await self._one(item)
                continue
            self.n_batches += 1
            self.n_items += len(prompts)
            start = 0
            for item_prompts, _, future in batch:
                stop = start + len(item_prompts)
                if not future.done():
                    future.set_result((np.asarray(rewards[start:stop]),
                                       None if std is None else np.asarray(std[start:stop])))
                start = stop

    async def _one(self, item):
        prompts, responses, future = item
        try:
            result = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._score, prompts, responses)
        except Exception as error:
            if not future.done():
                future.set_exception(error)
            return
        self.n_batches += 1
        self.n_items += len(prompts)
        if not future.done():
            future.set_result(result)
