"""The data hub: `fetch` finds a dataset file, checks it, or downloads it; `extract` opens archives.

A file is looked for in `$D2LITE_DATA/<name>/`, then in the cache, then downloaded from its
canonical URL and mirrors in turn; every file is sha256-checked before use. Parsing: `d2lite.data`.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from d2lite.registry import REGISTRY, DataFile, Source

__all__ = ["cache_dir", "data_dir", "extract", "fetch", "locate", "sha256sum"]

_log = logging.getLogger(__name__)
_TIMEOUT = (10, 60)  # seconds to connect, seconds between bytes


def data_dir() -> Path | None:
    """Return the folder named by `$D2LITE_DATA` (a local copy of the datasets), or None if unset.

    Example:
        >>> os.environ["D2LITE_DATA"] = "/data/d2lite"; data_dir()
        PosixPath('/data/d2lite')
    """
    value = os.environ.get("D2LITE_DATA", "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """Return the download cache: `$D2LITE_CACHE`, or `~/.cache/d2lite` when that is unset.

    Example:
        >>> cache_dir().name   # with D2LITE_CACHE unset
        'd2lite'
    """
    value = os.environ.get("D2LITE_CACHE", "").strip()
    return Path(value).expanduser() if value else Path.home() / ".cache" / "d2lite"


def sha256sum(path: str | os.PathLike) -> str:
    """Return the sha256 of the file at `path` as 64 hex digits, reading it in 1 MiB chunks.

    Example:
        >>> sha256sum("empty.txt")
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _entry(func: str, name: str, file: str | None, registry: Mapping) -> DataFile:
    """Look up one file of dataset `name` in `registry`, with errors that list what exists."""
    if name not in registry:
        raise ValueError(f"{func}(): unknown dataset {name!r}; known datasets:"
                         f" {', '.join(registry)}")
    files = registry[name]
    names = [entry.name for entry in files]
    if file is None:
        if len(files) != 1:
            raise ValueError(f"{func}(): dataset {name!r} has {len(files)} files"
                             f" ({', '.join(names)}); pass file=, e.g."
                             f" {func}({name!r}, {names[0]!r})")
        return files[0]
    if file not in names:
        raise ValueError(f"{func}(): dataset {name!r} has no file {file!r}; its files:"
                         f" {', '.join(names)}")
    return files[names.index(file)]


def locate(name: str, file: str | None = None, *,
           registry: Mapping[str, Sequence[DataFile]] | None = None) -> tuple[Path | None, bool]:
    """Find a local copy of a dataset file without downloading: `(path or None, hash is right)`.

    `$D2LITE_DATA/<name>/<file>` is looked at first, then the cache. Used by `python -m d2lite`.

    Example:
        >>> locate("mnist", "t10k-labels-idx1-ubyte.gz")   # with D2LITE_DATA set
        (PosixPath('/data/d2lite/mnist/t10k-labels-idx1-ubyte.gz'), True)
    """
    entry = _entry("locate", name, file, REGISTRY if registry is None else registry)
    roots = [root for root in (data_dir(), cache_dir()) if root is not None]
    for root in roots:
        path = root / name / entry.name
        if path.is_file():
            return path, sha256sum(path) == entry.sha256
    return None, False


def _check_name(name: str, archive: Path) -> PurePosixPath:
    """Return an archive member's path relative to the extraction folder, refusing unsafe names."""
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"[A-Za-z]:", posix):
        raise ValueError(f"extract(): refused {archive.name}: member {name!r} has an absolute path;"
                         " the archive is unsafe, nothing was extracted")
    parts = [part for part in posix.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"extract(): refused {archive.name}: member {name!r} contains '..';"
                         " the archive is unsafe, nothing was extracted")
    return PurePosixPath(*parts)


def _check_link(path: PurePosixPath, target: str, hard: bool, archive: Path) -> None:
    """Refuse a link member whose target lies outside the extraction folder."""
    parts = [] if hard else list(path.parent.parts)  # hard links are relative to the archive root
    posix = target.replace("\\", "/")
    inside = not (posix.startswith("/") or re.match(r"[A-Za-z]:", posix))
    for part in posix.split("/") if inside else ():
        if part == "..":
            inside = bool(parts)
            if not inside:
                break
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    if not inside:
        raise ValueError(f"extract(): refused {archive.name}: member {str(path)!r} links to"
                         f" {target!r}, outside the archive; nothing was extracted")


def _check_members(names: list[tuple[str, str | None, bool]], archive: Path) -> None:
    """Check every (name, link target or None, is hard link) before anything is written."""
    links: set[PurePosixPath] = set()
    for name, target, hard in names:
        path = _check_name(name, archive)
        if any(parent in links for parent in path.parents):
            raise ValueError(f"extract(): refused {archive.name}: member {name!r} goes through a"
                             " link of the same archive; nothing was extracted")
        if target is not None:
            _check_link(path, target, hard, archive)
            links.add(path)


def _extract_zip(archive: Path, folder: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        members = []
        for info in zf.infolist():
            is_link = stat.S_ISLNK(info.external_attr >> 16)
            target = zf.read(info).decode("utf-8", "replace") if is_link else None
            members.append((info.filename, target, False))
        _check_members(members, archive)
        zf.extractall(folder)  # zipfile writes link members as small text files, never as links


def _extract_tar(archive: Path, folder: Path) -> None:
    with tarfile.open(archive) as tf:
        members = tf.getmembers()
        for member in members:
            if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
                raise ValueError(f"extract(): refused {archive.name}: member {member.name!r} is a"
                                 " device or fifo; nothing was extracted")
        _check_members([(m.name, m.linkname if m.issym() or m.islnk() else None, m.islnk())
                        for m in members], archive)
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 / 3.12: a second line of defence
            tf.extractall(folder, members=members, filter="data")
        else:
            tf.extractall(folder, members=members)


def extract(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Safely extract a zip or tar archive (any compression) into the new folder `dest`.

    Every member is checked before anything is written: absolute paths, `..`, links that point
    outside `dest` (or members reached through a link) and device files are refused. The archive
    goes into a temporary folder beside `dest` that is renamed to `dest` only when all went well.

    Example:
        >>> extract("fra-eng.zip", "fra-eng")
        PosixPath('fra-eng')
    """
    archive, dest = Path(archive), Path(dest)
    if dest.exists():
        raise FileExistsError(f"extract(): {dest} already exists; remove it or choose another dest")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.part-", dir=dest.parent))
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, tmp)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, tmp)
        else:
            raise ValueError(f"extract(): {archive} is neither a zip nor a tar archive")
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # already gone after a successful rename
    return dest


def _mismatch(path: Path, entry: DataFile) -> str | None:
    """Return why `path` is not `entry` (size and sha256), or None when it is."""
    actual = sha256sum(path)
    if actual == entry.sha256:
        return None
    return (f"sha256 {actual} ({path.stat().st_size:,} bytes) but expected {entry.sha256}"
            f" ({entry.size:,} bytes)")


def _reason(err: BaseException) -> str:
    """Say in a few words why one download failed (no network stack traces)."""
    import requests  # lazily, like pooch itself

    if isinstance(err, requests.HTTPError) and err.response is not None:
        return f"HTTP {err.response.status_code} {err.response.reason}"
    if isinstance(err, requests.Timeout):
        return "timed out"
    if isinstance(err, requests.ConnectionError):
        return "could not connect (offline, or the host is down)"
    return str(err) or type(err).__name__


def _download_one(source: Source, entry: DataFile, dest: Path, others: Sequence[DataFile],
                  verbose: bool) -> None:
    """Download one source into a temp folder beside `dest`, check it and move it into place."""
    import pooch  # lazily: `import d2lite` must not import pooch

    downloader = pooch.HTTPDownloader(progressbar=verbose, chunk_size=1 << 16, timeout=_TIMEOUT)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=dest.parent) as tmp:
        fresh = Path(tmp) / "download"
        downloader(source.url, str(fresh), None)
        if source.member is None:
            problem = _mismatch(fresh, entry)
            if problem:
                raise ValueError(f"the file served has {problem}")
            os.replace(fresh, dest)
            return
        folder = extract(fresh, Path(tmp) / "extracted")
        member = folder / _check_name(source.member, fresh)
        if not member.is_file():
            raise ValueError(f"the archive has no member {source.member!r}")
        problem = _mismatch(member, entry)
        if problem:
            raise ValueError(f"member {source.member!r} has {problem}")
        os.replace(member, dest)
        for other in others:  # the same archive often holds the dataset's other files too
            for alt in other.sources:
                if alt.url != source.url or not alt.member:
                    continue
                sibling = folder / _check_name(alt.member, fresh)
                if sibling.is_file() and _mismatch(sibling, other) is None:
                    os.replace(sibling, dest.parent / other.name)


def _download(name: str, entry: DataFile, dest: Path, others: Sequence[DataFile],
              verbose: bool) -> Path:
    """Try each source of `entry` in order; return `dest` or raise one error listing them all."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tried = []
    for i, source in enumerate(entry.sources):
        try:
            _download_one(source, entry, dest, others, verbose)
            return dest
        except (OSError, ValueError, EOFError, tarfile.TarError, zipfile.BadZipFile) as err:
            reason = _reason(err)
            member = f" (member {source.member})" if source.member else ""
            tried.append(f"  {source.url}{member}: {reason}")
            if verbose:
                more = "trying the next URL" if i + 1 < len(entry.sources) else "no URL left"
                _log.warning("fetch(): %s failed: %s; %s", source.url, reason, more)
    if not any(dest.parent.iterdir()):
        dest.parent.rmdir()  # leave no empty dataset folder behind
    raise RuntimeError(
        f"fetch(): could not download {name}/{entry.name} ({entry.size:,} bytes);"
        f" tried {len(tried)} URL(s):\n" + "\n".join(tried) + "\n"
        f"If you are offline or these links are dead, get a copy of the file (see the book's setup"
        f" page), put it at <folder>/{name}/{entry.name} and point D2LITE_DATA at <folder>:"
        f" `export D2LITE_DATA=<folder>` in a shell, or os.environ['D2LITE_DATA'] = '<folder>'"
        f" in Python before loading.")


def fetch(name: str, file: str | None = None, *, verbose: bool = True,
          registry: Mapping[str, Sequence[DataFile]] | None = None) -> Path:
    """Return the local path of one dataset file, downloading it (hash-checked) when needed.

    Looks in `$D2LITE_DATA/<name>/<file>`, then the cache (`$D2LITE_CACHE`, default
    `~/.cache/d2lite`), then downloads from the file's URLs in order. A wrong file in
    `$D2LITE_DATA` is an error; a damaged cached file is downloaded again.

    Args:
        name: dataset name, a key of `d2lite.data.REGISTRY`, e.g. "mnist".
        file: file name within the dataset; may be left out when the dataset has one file.
        verbose: show download progress and one line for each URL that failed.
        registry: a mapping like `REGISTRY` (for your own datasets, or tests).

    Example:
        >>> fetch("timemachine").name
        'timemachine.txt'
    """
    registry = REGISTRY if registry is None else registry
    entry = _entry("fetch", name, file, registry)
    root = data_dir()
    if root is not None and (root / name / entry.name).is_file():
        path = root / name / entry.name
        problem = _mismatch(path, entry)
        if problem:
            raise ValueError(f"fetch(): {path} has {problem}; the file is damaged or a different"
                             " version: replace it with a good copy, or unset D2LITE_DATA so that"
                             " d2lite downloads it")
        return path
    cached = cache_dir() / name / entry.name
    if cached.is_file():
        if _mismatch(cached, entry) is None:
            return cached
        if verbose:
            _log.warning("fetch(): the cached %s is damaged (wrong sha256); downloading it again",
                         cached)
    others = [other for other in registry[name] if other is not entry]
    return _download(name, entry, cached, others, verbose)
