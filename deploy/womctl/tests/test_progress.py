"""The long commands' progress bar: drawn on a terminal, silent elsewhere."""

from __future__ import annotations

from io import StringIO

from rich.console import Console
from womctl.progress import progress


def test_on_a_terminal_the_bar_says_what_is_done_and_how_far() -> None:
    screen = StringIO()
    with progress(
        "replaying feedback's dead letters", 5, console=Console(file=screen, force_terminal=True)
    ) as advance:
        advance(3)
        advance(completed=5)
    assert "replaying feedback's dead letters" in screen.getvalue() and "5/5" in screen.getvalue()


def test_elsewhere_it_writes_nothing() -> None:
    log = StringIO()
    with progress("producing", 10, console=Console(file=log, force_terminal=False)) as advance:
        advance(10)
    assert log.getvalue() == ""
