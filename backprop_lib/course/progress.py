"""Progress of the long commands (a batch of submissions, the build, the class report)."""
from __future__ import annotations

import sys
from typing import Any


def progress_bar(total: int, what: str, unit: str = "notebook") -> Any:
    """A progress bar on stderr (tqdm), drawn only where stderr is a terminal: a log file or a pipe
    gets neither carriage returns nor a bar. Use it as a context manager; ``update()`` after each item."""
    from tqdm import tqdm

    return tqdm(total=total, desc=what, unit=unit, file=sys.stderr, disable=total == 0 or not sys.stderr.isatty(),
                dynamic_ncols=True, leave=False)
