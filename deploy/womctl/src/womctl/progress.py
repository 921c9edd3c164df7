"""A progress bar for the long commands (`womctl dlq replay`, `make bench`, `make chaos`): what is
being done, how far (done of total), for how long. Drawn only on a terminal, and gone when done,
so logs and captured output hold the commands' results alone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["Advance", "progress"]

Advance = Callable[..., None]
"""`advance(n)` counts `n` more done; `advance(completed=k, total=t)` sets both."""


@contextmanager
def progress(
    description: str, total: int | None = None, *, console: Console | None = None
) -> Iterator[Advance]:
    """A bar for `total` steps (a spinner while the total is unknown) on `console` (stderr by
    default); yields the function that moves it."""
    console = console or Console(stderr=True)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(description, total=total)

        def advance(steps: int = 0, *, completed: int | None = None, total: int | None = None) -> None:
            bar.update(task, advance=steps or None, completed=completed, total=total)

        yield advance
