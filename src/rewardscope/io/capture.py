"""What third-party readers say while they read a file, caught instead of printed.

tifffile, rosettasciio, h5py, imageio and PIL report problems through ``warnings.warn``
and through ``logging`` (tifffile and rosettasciio log, and Python prints an unhandled
log record raw on stderr). :func:`reader_messages` collects both while a file is read, so
that rewardscope can

- fold them into the one error line when reading fails,
- turn a successful read into a failure when a message says the file is damaged
  (tifffile reads only the first frame of a truncated stack and merely logs
  ``invalid page offset``), and
- otherwise keep them, unprinted, in ``ImageData.metadata["reader_warnings"]``
  (``rewardscope info`` shows them as one ``rewardscope: warning:`` line).

Warnings about the libraries' own code (``DeprecationWarning``,
``PendingDeprecationWarning``, ``ResourceWarning``, ``ImportWarning``) say nothing about the
file; they are re-issued unchanged after the read, so the usual filters (hidden by
default) decide.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rewardscope.errors import FileFormatError, InputError

#: Loggers of the readers; their records are caught and not passed on to the root logger.
READER_LOGGERS = ("tifffile", "rsciio", "h5py", "imageio", "PIL", "skimage", "zarr", "numcodecs", "hyperspy")
#: Warning categories about library code rather than the file; re-issued after the read.
CODE_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ResourceWarning, ImportWarning)
#: Words in a reader's message that mean the file is damaged even if some data came back.
DAMAGE = re.compile(r"corrupt|truncat|invalid (page|value) offset|failed to reshape|unexpected end", re.IGNORECASE)
MAX_SHOWN = 3
MAX_CHARS = 160


class _Collect(logging.Handler):
    """A logging handler that keeps ``"<library>: <message>"`` strings."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(level=logging.WARNING)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # a library's malformed log call must not break the read
            text = str(record.msg)
        self.messages.append(f"{record.name.split('.')[0]}: {text}")


@contextlib.contextmanager
def _logging_caught(messages: list[str]) -> Iterator[None]:
    handler = _Collect(messages)
    loggers = [logging.getLogger(name) for name in READER_LOGGERS]
    saved = [lg.propagate for lg in loggers]
    root = logging.getLogger()
    for lg in loggers:
        lg.addHandler(handler)
        lg.propagate = False
    root.addHandler(handler)  # anything else logged while reading (no raw "last resort" output)
    try:
        yield
    finally:
        root.removeHandler(handler)
        for lg, propagate in zip(loggers, saved):
            lg.removeHandler(handler)
            lg.propagate = propagate


@contextlib.contextmanager
def reader_messages() -> Iterator[list[str]]:
    """Catch the warnings and log records (WARNING and above) emitted inside the block.

    Yields
    ------
    list of str
        Filled while the block runs, one ``"<library or category>: <message>"`` per
        warning or record, in order (raw text; see :func:`summarise`).

    Examples
    --------
    >>> import warnings
    >>> with reader_messages() as said:
    ...     warnings.warn("odd tag")
    >>> said
    ['UserWarning: odd tag']
    """
    messages: list[str] = []
    code: list[tuple[Any, type[Warning], str, int]] = []

    def keep(message: Any, category: type[Warning], filename: str, lineno: int, *_: Any) -> None:
        if issubclass(category, CODE_WARNINGS):
            code.append((message, category, filename, lineno))
        else:
            messages.append(f"{category.__name__}: {message}")

    try:
        with warnings.catch_warnings(), _logging_caught(messages):
            warnings.simplefilter("always")
            warnings.showwarning = keep
            yield messages
    finally:
        for message, category, filename, lineno in code:
            warnings.warn_explicit(message, category, filename, lineno)


@contextlib.contextmanager
def read_guard(path: Path) -> Iterator[list[str]]:
    """Read ``path`` inside this block: every failure becomes one clear :class:`FileFormatError`.

    Reader messages are caught (:func:`reader_messages`); an exception that is not an
    :class:`InputError` becomes ``FileFormatError("<name>: cannot read file (<error>)...")``
    with the readers' messages and a hint when the content is another format than the
    suffix says; a read that succeeded while a reader said the file is damaged fails too.

    Parameters
    ----------
    path : Path
        The file being read (named in messages).

    Yields
    ------
    list of str
        The readers' messages (complete once the block has ended).

    Raises
    ------
    FileFormatError
        The read failed or the file is damaged.

    Examples
    --------
    >>> from pathlib import Path
    >>> with read_guard(Path("x.tif")):  # doctest: +ELLIPSIS
    ...     raise ValueError("not a TIFF file")
    Traceback (most recent call last):
    rewardscope.errors.FileFormatError: x.tif: cannot read file (ValueError: not a TIFF file)
    """
    with reader_messages() as said:
        try:
            yield said
        except InputError:
            raise
        except Exception as exc:  # corrupt files fail in many ways inside third-party readers
            raise FileFormatError(failure_message(path, exc, said)) from None
    if says_damaged(said):
        raise FileFormatError(f"{path.name}: the file is damaged or truncated ({summarise(said)})")


def failure_message(path: Path, exc: BaseException, said: Sequence[str] = ()) -> str:
    """One line: the file, the reader's error, a format hint and what the readers said.

    Examples
    --------
    >>> from pathlib import Path
    >>> failure_message(Path("a.tif"), ValueError("bad"), ["tifffile: <TiffFile> odd\\ntag"])
    'a.tif: cannot read file (ValueError: bad); tifffile: odd tag'
    """
    text = f"{path.name}: cannot read file ({clean(f'{type(exc).__name__}: {exc}')})"
    hint = content_hint(path)
    said_text = summarise(said)
    return text + (f"; {hint}" if hint else "") + (f"; {said_text}" if said_text else "")


#: (magic bytes at the start, format name, suffixes of that format)
MAGIC: tuple[tuple[bytes, str, tuple[str, ...]], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG", (".png",)),
    (b"II*\x00", "TIFF", (".tif", ".tiff")), (b"MM\x00*", "TIFF", (".tif", ".tiff")),
    (b"II+\x00", "BigTIFF", (".tif", ".tiff")), (b"MM\x00+", "BigTIFF", (".tif", ".tiff")),
    (b"\x93NUMPY", "NPY", (".npy",)),
    (b"\x89HDF\r\n\x1a\n", "HDF5", (".emd", ".h5", ".hdf5")),
    (b"\xff\xd8\xff", "JPEG", (".jpg", ".jpeg")), (b"GIF8", "GIF", (".gif",)),
)


def sniff(path: Path) -> tuple[str, tuple[str, ...]] | None:
    """(format name, its suffixes) from the file's first bytes, or ``None`` if unknown."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(212)
    except OSError:
        return None
    for magic, name, suffixes in MAGIC:
        if head.startswith(magic):
            return name, suffixes
    if head[208:212] == b"MAP ":
        return "MRC", (".mrc",)
    return None


def content_hint(path: Path) -> str:
    """``"its content looks like PNG, not .tif"`` when the first bytes contradict the suffix."""
    found = sniff(path)
    if found is None or path.suffix.lower() in found[1]:
        return ""
    suffix = path.suffix or "a file without suffix"
    return f"its content looks like {found[0]}, not {suffix} (rename it to {found[1][0]}?)"


def clean(text: str) -> str:
    """One short line: whitespace collapsed, tifffile's ``<TiffFile 'x'>`` prefixes dropped.

    Examples
    --------
    >>> clean("tifffile: <tifffile.TiffPages @8> invalid page offset 25968\\n")
    'tifffile: invalid page offset 25968'
    """
    text = re.sub(r"<[^<>]*>\s*", "", " ".join(str(text).split()))
    return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 3] + "..."


def summarise(messages: Sequence[str]) -> str:
    """The distinct messages, cleaned, joined with ``"; "`` (at most three, then ``+N more``).

    Examples
    --------
    >>> summarise(["a: x", "a: x", "b: y"])
    'a: x; b: y'
    """
    distinct = list(dict.fromkeys(clean(m) for m in messages if str(m).strip()))
    shown = "; ".join(distinct[:MAX_SHOWN])
    return shown + (f" (+{len(distinct) - MAX_SHOWN} more)" if len(distinct) > MAX_SHOWN else "")


def says_damaged(messages: Sequence[str]) -> bool:
    """True when a reader's message says the file is corrupt or truncated.

    Examples
    --------
    >>> says_damaged(["tifffile: <TiffPages @8> invalid page offset 25968"]), says_damaged(["rsciio: unknown tag"])
    (True, False)
    """
    return any(DAMAGE.search(m) for m in messages)
