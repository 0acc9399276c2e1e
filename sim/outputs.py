"""Every folder continuum writes: staged, moved into place whole or not at all, never over a user's files.

A folder is built in a hidden staging folder beside its target
(``.<name>.continuum-staging-<pid>-<random>``), gets a ``manifest.json`` saying continuum wrote
it, and is moved into place when complete. An existing folder is replaced only if it is empty,
holds a manifest, or the caller says ``overwrite``; the current folder (and those above it), the
home folder and a folder holding an input file are never replaced. Staging folders left behind
by a process that was killed are removed the next time the same target is staged.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from .version import package_version

MANIFEST = "manifest.json"
STAGING_MARK = ".continuum-staging-"
NAME_KEPT = 50
"""Characters of the target's name kept in a staging folder's name (file names stop at 255 bytes)."""

Kind = Literal["run", "compare", "plan"]
ADVICE = "choose another --out (another folder in Python)"


class OutputFolderError(Exception):
    """An output folder continuum will not write: it holds files continuum did not write, it is
    the current folder, the home folder or holds an input file, or it cannot be created."""


def check_folder(path: str | Path, inputs: Iterable[str | Path] = (), overwrite: bool = False) -> None:
    """Raise :class:`OutputFolderError` now if ``path`` could not be written or must not be replaced.

    Called before a long simulation, so a bad ``--out`` is found in a second, not after an hour.
    It stages and removes an empty folder beside ``path`` and leaves nothing behind.

    Parameters
    ----------
    path
        The output folder.
    inputs
        The scenario files the command reads: a folder holding one is never replaced.
    overwrite
        Replace a non-empty folder without continuum's ``manifest.json``.
    """
    _, staging, created = _prepare(path, inputs, overwrite)
    _discard(staging, created)


@contextmanager
def staged_folder(path: str | Path, kind: Kind, inputs: Iterable[str | Path] = (),
                  overwrite: bool = False) -> Iterator[Path]:
    """A staging folder beside ``path`` to write into, moved into place only if the block succeeds.

    The rules of :func:`check_folder` apply; a ``manifest.json`` (``kind``: run, compare or
    plan; the package version; the files) is added last. On any error the staging folder and
    any parent folders made for it are removed.
    """
    target, staging, created = _prepare(path, inputs, overwrite)
    try:
        yield staging
        _write_manifest(staging, kind)
        replace_folder(staging, target)
    except BaseException:
        _discard(staging, created)
        raise


def replace_folder(staging: Path, target: Path) -> None:
    """Move a finished folder into place, replacing any earlier one at the last moment."""
    if not os.path.lexists(target):
        os.replace(staging, target)
        return
    retired = _new_staging(target)
    os.replace(target, retired / target.name)
    try:
        os.replace(staging, target)
    except OSError:
        os.replace(retired / target.name, target)   # the earlier folder goes back where it was
        retired.rmdir()
        raise
    shutil.rmtree(retired, ignore_errors=True)


def is_ours(folder: Path) -> bool:
    """Whether ``folder`` holds the ``manifest.json`` continuum writes into every output folder."""
    try:
        record = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("package") == "continuum"


# ---------------------------------------------------------------------------- refusals
def _prepare(path: str | Path, inputs: Iterable[str | Path], overwrite: bool) -> tuple[Path, Path, list[Path]]:
    """Check the target, make its parents and a staging folder: (target, staging, parents made)."""
    target = Path(os.path.abspath(path))    # "." and "x/.." get a real name to stage beside
    try:
        _refuse_protected(target, path, inputs)
        _refuse_foreign(target, path, overwrite)
        created = _make_parents(target.parent)
    except OSError as error:
        raise OutputFolderError(_os_reason(path, target, error)) from None
    try:
        _remove_stale(target)
        staging = _new_staging(target)
        (staging / target.name).mkdir()     # the file system takes the name itself, too
        (staging / target.name).rmdir()
    except OSError as error:
        _remove_empty(created)
        raise OutputFolderError(_os_reason(path, target, error)) from None
    return target, staging, created


def _refuse_protected(target: Path, shown: str | Path, inputs: Iterable[str | Path]) -> None:
    """Folders never replaced, even with overwrite: the current one and above, home, inputs."""
    existing = next(folder for folder in [target, *target.parents] if folder.exists())
    if not existing.is_dir():
        what = f"{shown} is" if existing == target else f"{shown} cannot be made: {existing} is"
        raise OutputFolderError(f"{what} a file, not a folder; {ADVICE}")
    real, here = target.resolve(), Path.cwd().resolve()
    never = {here: "the current folder", Path(real.anchor): "the root folder",
             Path(os.path.expanduser("~")).resolve(): "your home folder"}
    for above in here.parents:
        never.setdefault(above, f"a folder holding the current folder ({here})")
    if real in never:
        raise OutputFolderError(f"{shown} is {never[real]}: continuum never replaces it, even with --overwrite; "
                                f"{ADVICE}")
    for source in inputs:
        if Path(source).is_file() and real in Path(source).resolve().parents:
            raise OutputFolderError(f"{shown} holds the scenario file {source}, which replacing the folder would "
                                    f"delete: continuum never replaces it, even with --overwrite; {ADVICE}")


def _refuse_foreign(target: Path, shown: str | Path, overwrite: bool) -> None:
    if overwrite or not target.is_dir() or is_ours(target):
        return
    entries = sorted(entry.name for entry in target.iterdir())
    if entries:
        few = ", ".join(entries[:5]) + (f" and {len(entries) - 5} more" if len(entries) > 5 else "")
        raise OutputFolderError(f"{shown} holds files continuum did not write ({len(entries)}: {few}; no {MANIFEST}): "
                                "choose another --out or add --overwrite to replace it (overwrite=True in Python)")


def _os_reason(shown: str | Path, target: Path, error: OSError) -> str:
    """The OS's reason, and where it arose when that is not the folder itself (a parent, the staging folder)."""
    named = error.filename and Path(os.fsdecode(error.filename)).name != target.name
    where = f" ({os.fsdecode(error.filename)})" if named else ""
    return f"cannot write the output folder {shown}: {error.strerror or error}{where}"


# ---------------------------------------------------------------------------- staging
def _make_parents(folder: Path) -> list[Path]:
    """Make ``folder`` and its missing parents; the ones made, deepest first (to remove on failure)."""
    missing = [above for above in [folder, *folder.parents] if not above.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_empty(created: list[Path]) -> None:
    for folder in created:
        try:
            folder.rmdir()
        except OSError:   # something else has been put there since: leave it
            return


def _discard(staging: Path, created: list[Path]) -> None:
    shutil.rmtree(staging, ignore_errors=True)
    _remove_empty(created)


def _staging_prefix(target: Path) -> str:
    return f".{target.name[:NAME_KEPT]}{STAGING_MARK}"


def _new_staging(target: Path) -> Path:
    """An empty folder beside ``target`` named for it and this process (mode from the umask, as mkdir)."""
    prefix = f"{_staging_prefix(target)}{os.getpid()}-"
    while True:
        staging = target.with_name(prefix + secrets.token_hex(4))
        try:
            staging.mkdir()
            return staging
        except FileExistsError:
            continue


def _remove_stale(target: Path) -> None:
    """Remove staging folders for ``target`` whose process has ended (killed mid-write)."""
    pattern = re.compile(re.escape(_staging_prefix(target)) + r"(\d{1,10})-[0-9a-f]{8}")
    for sibling in target.parent.iterdir():
        found = pattern.fullmatch(sibling.name)
        if found and sibling.is_dir() and not sibling.is_symlink() and not _alive(int(found.group(1))):
            shutil.rmtree(sibling, ignore_errors=True)


def _alive(pid: int) -> bool:
    if os.name == "nt":   # os.kill there ends the process instead of asking about it: keep the folder
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):   # another user's process, or no pid at all: leave it alone
        return True
    return True


def _write_manifest(folder: Path, kind: Kind) -> None:
    files = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())
    record = {"package": "continuum", "kind": kind, "version": package_version(), "files": files}
    (folder / MANIFEST).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
