"""All-or-nothing output folders.

Commands write into a hidden temporary folder next to the requested one and rename it
into place only when everything succeeded, so a failed run never leaves a half-written
output folder behind.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from rewardscope.errors import InputError


class OutputDir:
    """Context manager that yields a temporary folder and publishes it on success.

    Parameters
    ----------
    path : str or Path
        The final output folder. If it exists it must be empty or ``overwrite`` must be set.
    overwrite : bool
        Replace an existing, non-empty folder.

    Examples
    --------
    >>> with OutputDir("out/run1") as tmp:   # doctest: +SKIP
    ...     (tmp / "summary.json").write_text("{}")
    """

    def __init__(self, path: str | Path, *, overwrite: bool = True) -> None:
        self.path = Path(path)
        self.overwrite = overwrite
        self._tmp: Path | None = None

    def __enter__(self) -> Path:
        if self.path.exists() and not self.path.is_dir():
            raise InputError(f"output path {self.path} exists and is not a folder")
        if self.path.exists() and any(self.path.iterdir()) and not self.overwrite:
            raise InputError(f"output folder {self.path} is not empty")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.partial-", dir=self.path.parent))
        return self._tmp

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._tmp is not None
        if exc_type is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            return
        if self.path.exists():
            shutil.rmtree(self.path)
        self._tmp.rename(self.path)
