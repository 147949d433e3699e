"""Runs of rows, so that temporaries stay bounded."""


def chunks(n, chunk_size):
    """``(start, stop)`` of consecutive runs of at most ``chunk_size`` of ``n`` rows."""
    return ((start, min(start + chunk_size, n)) for start in range(0, n, chunk_size))
