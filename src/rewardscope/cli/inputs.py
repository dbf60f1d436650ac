"""CLI options that choose what to read from an input file (shared by every command that reads images)."""

from __future__ import annotations

from typing import Any

import typer

#: Help of ``--signal``; the API's ``signal=`` argument means the same (see ``read_image``).
SIGNAL_HELP = ("Which signal of a multi-signal file (.emd, .dm3/.dm4, .ser/.emi) to read: its index as "
               "`rewardscope info FILE` lists them. Default: the first image.")


def signal_option() -> Any:
    """The ``--signal N`` option (default: the file's first image).

    Examples
    --------
    >>> signal_option().default is None
    True
    """
    return typer.Option(None, "--signal", help=SIGNAL_HELP, show_default=False)
