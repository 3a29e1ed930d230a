"""Script files on disk: read one without surprises, write one whole or not at all.

It knows the ways a path goes wrong for a program that reads a screenplay and writes an export:
a folder; a device (`/dev/zero` never ends) or a pipe (opening a FIFO waits for a writer that
may never come); a file far too big to be a script; a symlink, written through to its target;
a name with a NUL in it; a write that fails halfway. Each is a `FileError` whose `str()` is one
line naming the file. The command line and the console room share these two functions. It
deliberately knows nothing of screenplay formats.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from screenplay.errors import FileError

#: `errno`s of a disk (or a quota on it) with no room left.
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})

#: The largest script read. A feature screenplay in Fountain is about 200 KB and in FDX under
#: 1 MB; anything past this is not a script, and reading it would only waste time and memory.
MAX_SCRIPT_BYTES = 5 * 1024 * 1024

_MB = 1024 * 1024
# Non-blocking, so that opening a FIFO returns at once (it is then refused) instead of waiting
# for a writer; never a controlling terminal; not inherited by child processes.
_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def read_script_bytes(path: str | os.PathLike[str], limit: int = MAX_SCRIPT_BYTES) -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them, or a `FileError`.

    The file is opened without blocking and looked at before a byte is read: a folder, a
    device, a pipe or a socket is refused, and so is a file bigger than `limit` (also one that
    grows past it while being read)."""
    name = _name(path)
    try:
        handle = os.open(name, _READ_FLAGS)
    except FileNotFoundError:
        raise FileError(f"{name} does not exist.", kind="file_missing", name=name) from None
    except IsADirectoryError:
        raise _is_folder(name) from None
    except OSError as err:
        raise _failed(name, err, writing=False) from None
    try:
        _check_readable(name, os.fstat(handle), limit)
        data = _read_at_most(handle, limit + 1)
    except OSError as err:
        raise _failed(name, err, writing=False) from None
    finally:
        os.close(handle)
    if len(data) > limit:
        raise _too_big(name, len(data), limit)
    return data


def _check_readable(name: str, info: os.stat_result, limit: int) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise _is_folder(name)
    if not stat.S_ISREG(info.st_mode):
        raise FileError(
            f"{name} is {_kind(info.st_mode)}; only regular files are read.",
            kind="file_not_regular",
            name=name,
        )
    if info.st_size > limit:
        raise _too_big(name, info.st_size, limit)


def _read_at_most(handle: int, count: int) -> bytes:
    chunks: list[bytes] = []
    left = count
    while left > 0:
        chunk = os.read(handle, min(left, _MB))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _too_big(name: str, size: int, limit: int) -> FileError:
    most = f"{limit // _MB} MB" if limit % _MB == 0 else _size(limit)
    return FileError(
        f"{name} is {_size(size)}; screenplay files of more than {most} are refused.",
        kind="file_too_big",
        name=name,
        size=_size(size),
        most=most,
    )


def _is_folder(name: str) -> FileError:
    return FileError(f"{name} is a folder, not a screenplay file.", kind="file_folder", name=name)


def _failed(name: str, err: OSError, *, writing: bool) -> FileError:
    """Reading or writing `name` failed in the operating system: denied, a full disk, or the
    system's own words."""
    if isinstance(err, PermissionError):
        said, kind = "permission denied", "write_denied" if writing else "read_denied"
    elif writing and err.errno in _DISK_FULL:
        said, kind = "the disk is full", "disk_full"
    else:
        said, kind = str(err.strerror or err), "write_failed" if writing else "read_failed"
    if writing:
        return FileError(f"Cannot write {name}: {said}.", kind=kind, name=name, error=said)
    return FileError(f"{name} cannot be read: {said}.", kind=kind, name=name, error=said)


def _size(count: int) -> str:
    if count >= _MB:
        return f"{count / _MB:.1f} MB"
    return f"{count / 1024:.0f} KB" if count >= 1024 else f"{count} bytes"


def write_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path`, whole or not at all; return the path of the file written.

    The bytes go to a temporary file beside the target, reach the disk, and the temporary file
    is renamed over the target, so nobody ever reads half a file, and a failure (a full disk,
    an interrupt) leaves the old file as it was and no temporary file behind. A symlink is
    written through: its target is replaced and the link kept. A folder, a device, a pipe or a
    socket is refused, never replaced; a file that already exists keeps its permissions."""
    name = _name(path)
    if name.endswith(("/", os.sep)) or Path(name).name in ("", ".", ".."):
        raise FileError(
            f"Cannot write {name}: it is a folder, not a file name.", kind="write_folder", name=name
        )
    target = Path(os.path.realpath(name))
    mode = _replaceable_mode(name, target)
    folder = target.parent
    if not folder.is_dir():
        shown = str(Path(name).parent)
        raise FileError(
            f"Cannot write {name}: the folder {shown!r} does not exist.",
            kind="write_no_folder",
            name=name,
            folder=shown,
        )
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:
        raise _failed(name, err, writing=True) from None
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
            # Permissions are a courtesy: a file system without them (FAT) still takes the file.
            with contextlib.suppress(OSError):
                os.fchmod(out.fileno(), mode)
        os.replace(temporary, target)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(err, OSError):
            raise _failed(name, err, writing=True) from None
        raise
    return target


def _replaceable_mode(name: str, target: Path) -> int:
    """The permissions the written file gets; a `FileError` when `target` must not be replaced."""
    try:
        info = target.lstat()
    except FileNotFoundError:
        return 0o666 & ~_umask()
    except OSError as err:
        raise _failed(name, err, writing=True) from None
    if stat.S_ISDIR(info.st_mode):
        raise FileError(f"Cannot write {name}: it is a folder.", kind="write_folder", name=name)
    if stat.S_ISLNK(info.st_mode):
        # What is left of a path after `realpath` is a symlink only in a loop of them.
        raise FileError(
            f"Cannot write {name}: it is a symlink that leads round in a loop.",
            kind="write_link_loop",
            name=name,
        )
    if not stat.S_ISREG(info.st_mode):
        raise FileError(
            f"Cannot write {name}: it is {_kind(info.st_mode)}, never replaced.",
            kind="write_not_regular",
            name=name,
        )
    return stat.S_IMODE(info.st_mode)


def _name(path: str | os.PathLike[str]) -> str:
    name = os.fspath(path)
    if not name:
        raise FileError("No file name was given.", kind="file_no_name")
    if "\0" in name:
        raise FileError(
            f"The file name {name[:80]!r} holds a NUL character, which no name can.",
            kind="file_nul_name",
        )
    return name


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _umask() -> int:
    """The process's umask, read where Linux shows it: setting it to read it back, as is the
    only portable way, would for a moment change it for every thread of the bot."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
