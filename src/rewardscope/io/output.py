"""Safe, all-or-nothing output folders.

Commands write into a hidden temporary folder next to the requested one and rename it
into place only when everything succeeded, so a failed or interrupted run never leaves a
half-written output folder behind. Every folder we publish carries a manifest,
``.rewardscope.json``, listing what we wrote; nothing rewardscope did not create is ever
deleted or overwritten:

- an existing, non-empty ``--out`` is refused unless ``overwrite`` is given, and even then
  it is replaced only if it carries our manifest and holds nothing the manifest does not
  list (the user may have added notes to our folder);
- an existing empty folder may be used;
- ``--out`` may not be the current folder or above it, nor hold any input of the command;
- the check runs before any work (:func:`check_output_path`), so a long run does not fail
  at the end because the folder cannot be written.

Folders are created honouring the user's umask (``tempfile.mkdtemp`` alone makes 0700).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from rewardscope.errors import InputError

#: Name of the manifest file written into every output folder.
MANIFEST = ".rewardscope.json"
_MARK = "rewardscope output folder"

PathLike = str | Path


class OutputPathError(InputError):
    """An output path cannot be used (not empty, not ours, not writable, holds an input)."""


def os_error_message(exc: OSError) -> str:
    """One line describing a file-system error, naming the path(s) involved.

    Parameters
    ----------
    exc : OSError
        The error raised by the operating system.

    Returns
    -------
    str
        E.g. ``"/data/out: Permission denied"``.

    Examples
    --------
    >>> os_error_message(PermissionError(13, "Permission denied", "/data/out"))
    '/data/out: Permission denied'
    """
    reason = exc.strerror or str(exc) or type(exc).__name__
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    return f"{' -> '.join(names)}: {reason}" if names else reason


def current_umask() -> int:
    """The process's file-mode creation mask (e.g. ``0o022``).

    Examples
    --------
    >>> 0 <= current_umask() <= 0o777
    True
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no read-only query exists: set and restore
    os.umask(mask)
    return mask


def _refuse(message: str) -> None:
    raise OutputPathError(message)


def _write_error(out: PathLike, exc: OSError) -> OutputPathError:
    return OutputPathError(f"cannot write --out {out}: {os_error_message(exc)}")


def _check_not_above(out: Path, shown: PathLike, inputs: Iterable[PathLike]) -> None:
    """Refuse ``out`` equal to or above the current folder or any input's folder."""
    if Path.cwd().resolve().is_relative_to(out):
        _refuse(f"--out {shown} is the current folder or above it; give a new folder for the results")
    for item in inputs:
        if item is not None and Path(item).expanduser().resolve().is_relative_to(out):
            _refuse(f"--out {shown} holds the input {item}; give a new folder for the results")


def _entries(folder: Path) -> tuple[set[str], set[str]]:
    """Relative POSIX paths of the files (incl. links) and folders below ``folder``."""
    files: set[str] = set()
    dirs: set[str] = set()
    for root, dirnames, filenames in os.walk(folder):
        rel = Path(root).relative_to(folder)
        for name in dirnames:
            if (Path(root) / name).is_symlink():
                files.add((rel / name).as_posix())
            else:
                dirs.add((rel / name).as_posix())
        files.update((rel / name).as_posix() for name in filenames)
    files.discard(MANIFEST)
    return files, dirs


def read_manifest(folder: PathLike) -> dict | None:
    """The manifest of a folder rewardscope wrote, or ``None`` if it has none.

    Parameters
    ----------
    folder : str or Path
        An output folder.

    Returns
    -------
    dict or None
        ``{"written_by", "version", "files", "folders"}``; paths are relative, POSIX style.
    """
    path = Path(folder) / MANIFEST
    if path.is_symlink() or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(data, dict) and data.get("written_by") == _MARK
    return data if ok and isinstance(data.get("files"), list) and isinstance(data.get("folders"), list) else None


def _check_ours(folder: Path, shown: PathLike) -> dict:
    """Refuse unless ``folder`` carries our manifest and holds only what it lists."""
    manifest = read_manifest(folder)
    if manifest is None:
        _refuse(f"--overwrite: {shown} was not written by rewardscope (no {MANIFEST}); it is left as it is")
    files, dirs = _entries(folder)
    foreign = sorted((files - set(manifest["files"])) | (dirs - set(manifest["folders"])))
    if foreign:
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        _refuse(f"--overwrite: {shown} holds {foreign[0]}{more}, which rewardscope did not write; "
                "move it away or choose a new folder")
    return manifest


def _check_writable(out: Path, shown: PathLike) -> None:
    """Refuse unless the nearest existing ancestor of ``out``'s parent is a writable folder."""
    anchor = out.parent
    while not anchor.exists() and anchor != anchor.parent:
        anchor = anchor.parent
    if not anchor.is_dir():
        _refuse(f"cannot create --out {shown}: {anchor} is not a folder")
    try:  # a real probe: permission bits, ACLs, read-only file systems, root
        os.rmdir(tempfile.mkdtemp(prefix=".rewardscope-probe-", dir=anchor))
    except OSError as exc:
        _refuse(f"cannot write --out {shown}: {anchor} is not writable ({exc.strerror or exc})")


def check_output_path(out: PathLike, *, inputs: Iterable[PathLike | None] = (), overwrite: bool = False) -> Path:
    """Check that ``out`` can receive a command's results, before any work is done.

    Parameters
    ----------
    out : str or Path
        The requested output folder.
    inputs : iterable of str or Path
        The command's input files (images, tables, a study database); ``None`` entries are
        skipped. ``out`` may not be equal to or above the folder of any of them.
    overwrite : bool
        Allow replacing an existing folder that rewardscope wrote (and nothing else).

    Returns
    -------
    Path
        ``out`` with symlinks and ``..`` resolved: the folder that will be written.

    Raises
    ------
    OutputPathError
        An :class:`~rewardscope.errors.InputError`: ``out`` is a file, a non-empty folder
        (without ``overwrite``), a folder rewardscope did not write or that holds files it did
        not write, the current folder or above it, the folder of an input or above it, or
        cannot be created or written.

    Examples
    --------
    >>> import tempfile
    >>> base = Path(tempfile.mkdtemp())
    >>> check_output_path(base / "run1", inputs=[base / "run0" / "image.tif"]).name
    'run1'
    >>> check_output_path(base, inputs=[base / "image.tif"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rewardscope.io.output.OutputPathError: --out ... holds the input .../image.tif; give a new folder for the results
    """
    target = Path(out).expanduser().resolve()
    _check_not_above(target, out, inputs)
    if target.exists() or target.is_symlink():
        if not target.is_dir():
            _refuse(f"--out {out} exists and is not a folder")
        if any(target.iterdir()):
            if not overwrite:
                _refuse(f"--out {out} is not empty; give --overwrite to replace an earlier rewardscope "
                        "output, or choose a new folder")
            _check_ours(target, out)
    _check_writable(target, out)
    return target


def write_manifest(folder: PathLike) -> Path:
    """Write ``.rewardscope.json`` listing every file and folder now in ``folder``.

    Parameters
    ----------
    folder : str or Path
        A finished output folder.

    Returns
    -------
    Path
        The manifest file.
    """
    from rewardscope import __version__

    folder = Path(folder)
    files, dirs = _entries(folder)
    data = {"written_by": _MARK, "version": __version__, "files": sorted(files), "folders": sorted(dirs)}
    path = folder / MANIFEST
    path.write_text(json.dumps(data, indent=1) + "\n")
    return path


def add_to_manifest(folder: PathLike, names: Iterable[str]) -> Path:
    """List files that rewardscope just wrote into an existing output folder in its manifest.

    Only ``names`` are added (not whatever else the folder holds now: a note the user
    added stays foreign to us).

    Parameters
    ----------
    folder : str or Path
        A folder carrying our manifest.
    names : iterable of str
        Relative POSIX paths of the new files.

    Returns
    -------
    Path
        The manifest file.

    Raises
    ------
    OutputPathError
        The folder carries no manifest of ours.

    Examples
    --------
    >>> import tempfile
    >>> with OutputDir(Path(tempfile.mkdtemp()) / "run") as tmp:
    ...     pass
    >>> folder = tmp.parent / "run"
    >>> _ = (folder / "index.html").write_text("<html></html>")
    >>> read_manifest(add_to_manifest(folder, ["index.html"]).parent)["files"]
    ['index.html']
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        _refuse(f"{folder} was not written by rewardscope (no {MANIFEST})")
    manifest["files"] = sorted(set(manifest["files"]) | set(names))
    path = folder / MANIFEST
    path.write_text(json.dumps(manifest, indent=1) + "\n")
    return path


def _remove_ours(folder: Path, manifest: dict) -> bool:
    """Delete what ``manifest`` lists from ``folder``, then the folder if empty; True if gone."""
    for rel in [*manifest["files"], MANIFEST]:
        path = folder / rel
        if path.is_symlink() or path.is_file():
            with contextlib.suppress(OSError):  # what cannot be removed stays (reported as left over)
                path.unlink()
    for rel in sorted(manifest["folders"], key=lambda r: r.count("/"), reverse=True):
        with contextlib.suppress(OSError):  # a folder still holding files stays
            (folder / rel).rmdir()
    with contextlib.suppress(OSError):  # a folder still holding files stays
        folder.rmdir()
    return not folder.exists()


def _publish(tmp: Path, target: Path, shown: PathLike, overwrite: bool) -> Path | None:
    """Rename ``tmp`` to ``target``; an earlier output of ours is moved aside, then removed.

    Returns the moved-aside folder if it could not be removed completely (else None).
    """
    old = None
    if target.exists() and any(target.iterdir()):
        if not overwrite:
            _refuse(f"--out {shown} is not empty (it was filled while this command ran); results not written")
        manifest = _check_ours(target, shown)
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        try:
            os.rename(target, old)
        except BaseException:
            old.rmdir()
            raise
    try:
        os.rename(tmp, target)
    except BaseException:
        if old is not None:
            os.rename(old, target)
        raise
    if old is not None and not _remove_ours(old, manifest):
        return old
    return None


class OutputDir:
    """Context manager that yields a temporary folder and publishes it on success.

    Parameters
    ----------
    path : str or Path
        The final output folder; checked with :func:`check_output_path` on entry.
    inputs : iterable of str or Path
        The command's input files (``out`` may not hold them).
    overwrite : bool
        Replace an existing folder that rewardscope wrote (never anything else).

    Attributes
    ----------
    leftover : Path or None
        After publishing over an earlier output: the moved-aside old folder if it still
        holds files rewardscope did not write (they are never deleted), else ``None``.

    Examples
    --------
    >>> import tempfile
    >>> base = Path(tempfile.mkdtemp())
    >>> with OutputDir(base / "run1") as tmp:
    ...     _ = (tmp / "summary.json").write_text("{}")
    >>> sorted(p.name for p in (base / "run1").iterdir())
    ['.rewardscope.json', 'summary.json']
    """

    def __init__(self, path: PathLike, *, inputs: Iterable[PathLike | None] = (), overwrite: bool = False) -> None:
        self.path = Path(path)
        self.inputs = list(inputs)
        self.overwrite = overwrite
        self.leftover: Path | None = None
        self._target: Path | None = None
        self._tmp: Path | None = None

    def __enter__(self) -> Path:
        self._target = check_output_path(self.path, inputs=self.inputs, overwrite=self.overwrite)
        try:
            self._target.parent.mkdir(parents=True, exist_ok=True)
            self._tmp = Path(tempfile.mkdtemp(prefix=f".{self._target.name}.partial-", dir=self._target.parent))
            os.chmod(self._tmp, 0o777 & ~current_umask())
        except OSError as exc:
            self._discard()
            raise _write_error(self.path, exc) from exc
        return self._tmp

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._tmp is not None and self._target is not None
        if exc_type is not None:
            self._discard()
            return
        try:
            write_manifest(self._tmp)
            self.leftover = _publish(self._tmp, self._target, self.path, self.overwrite)
        except OSError as exc:
            self._discard()
            raise _write_error(self.path, exc) from exc
        except BaseException:
            self._discard()
            raise

    def _discard(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


def check_output_file(out: PathLike, *, overwrite: bool = False) -> Path:
    """Check that a single output file (e.g. trained weights) can be written, before any work.

    Parameters
    ----------
    out : str or Path
        The file to write.
    overwrite : bool
        Allow replacing an existing file (the caller checks that it is one of ours).

    Returns
    -------
    Path
        ``out`` with symlinks and ``..`` resolved.

    Raises
    ------
    OutputPathError
        ``out`` is a folder, exists (without ``overwrite``), or its folder cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> check_output_file(Path(tempfile.mkdtemp()) / "weights.pt").name
    'weights.pt'
    """
    target = Path(out).expanduser().resolve()
    if target.is_dir():
        _refuse(f"--out {out} is a folder; give a file name")
    if target.exists() and not overwrite:
        _refuse(f"--out {out} exists; give --overwrite to replace it")
    _check_writable(target, out)
    return target


class OutputFile:
    """Context manager yielding a temporary file name; the file is renamed onto ``path`` on success.

    Parameters
    ----------
    path : str or Path
        The file to write; checked with :func:`check_output_file` on entry.
    overwrite : bool
        Replace an existing file.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "notes.txt"
    >>> with OutputFile(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """

    def __init__(self, path: PathLike, *, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.overwrite = overwrite
        self._tmp: Path | None = None
        self._target: Path | None = None

    def __enter__(self) -> Path:
        self._target = check_output_file(self.path, overwrite=self.overwrite)
        try:
            self._target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _write_error(self.path, exc) from exc
        self._tmp = self._target.with_name(f".{self._target.name}.partial-{os.getpid()}")
        return self._tmp

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._tmp is not None and self._target is not None
        try:
            if exc_type is None:
                os.replace(self._tmp, self._target)
        except OSError as err:
            raise _write_error(self.path, err) from err
        finally:
            self._tmp.unlink(missing_ok=True)
