"""Files in a dialogue folder: paths that cannot escape it, atomic saves, change detection.

Every path the page asks for is resolved and must name an existing (or, for a save, a new)
regular file inside the folder: no absolute paths, no '..', no symlink leading out, no
hidden files. Anything else is "not found", so the page learns nothing about the disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

EDITABLE = (".yaml", ".yml")


class NotFound(Exception):
    """The path is not a file the studio may read or write."""


def content_version(data: bytes) -> str:
    """What the page sends back on save, to tell whether the file changed meanwhile."""
    return hashlib.sha256(data).hexdigest()


def safe_path(root: Path, rel: str, *, must_exist: bool = True) -> Path:
    """The file ``rel`` inside ``root``, or NotFound."""
    if not rel or "\\" in rel or "\x00" in rel or len(rel) > 300:
        raise NotFound(rel)
    pure = PurePosixPath(rel)
    if pure.is_absolute() or any(part in ("", ".", "..") for part in rel.split("/")):
        raise NotFound(rel)
    if any(part.startswith(".") for part in pure.parts) or pure.suffix not in EDITABLE:
        raise NotFound(rel)
    base = root.resolve()
    candidate = base.joinpath(*pure.parts)
    # Every step must be a real folder (not a symlink) inside the root.
    here = base
    for part in pure.parts[:-1]:
        here = here / part
        if here.is_symlink() or (here.exists() and not here.is_dir()):
            raise NotFound(rel)
    if candidate.is_symlink():
        raise NotFound(rel)
    resolved = candidate.resolve()
    if base not in resolved.parents:
        raise NotFound(rel)
    if must_exist and not resolved.is_file():
        raise NotFound(rel)
    if resolved.exists() and not resolved.is_file():
        raise NotFound(rel)
    return resolved


def atomic_write(path: Path, data: bytes) -> None:
    """Write all of ``data`` or nothing: a temporary file beside it, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def folder_files(root: Path) -> dict[str, Path]:
    """Every regular file under ``root`` by relative name, leaving out hidden ones."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or p.is_symlink() or not p.is_file():
            continue
        out[rel.as_posix()] = p
    return out


def sync_folder(source: Path, target: Path) -> list[str]:
    """Make ``target`` hold exactly ``source``'s files, each replaced atomically.

    Hidden entries in ``target`` (such as .git) are left alone. Returns the names changed.
    """
    want = folder_files(source)
    have = folder_files(target) if target.exists() else {}
    changed = []
    for rel, src in want.items():
        data = src.read_bytes()
        dst = have.get(rel)
        if dst is None or dst.read_bytes() != data:
            atomic_write(target / rel, data)
            changed.append(rel)
    for rel, dst in have.items():
        if rel not in want:
            dst.unlink()
            changed.append(rel)
    return changed


def copy_folder(source: Path, target: Path) -> None:
    """A plain copy without hidden entries (for drafts and numbered versions)."""
    shutil.copytree(
        source, target, ignore=shutil.ignore_patterns(".*"), symlinks=False, dirs_exist_ok=True
    )
