"""The data hub: `fetch` finds a dataset file in $D2LITE_DATA or the cache, or downloads it from
its URLs in turn (an archive's member is read in memory); every file is sha256-checked."""
from __future__ import annotations

import hashlib
import logging
import os
import tarfile
import tempfile
import urllib.parse
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from d2lite.registry import REGISTRY, DataFile, Source

__all__ = ["cache_dir", "data_dir", "fetch", "locate", "read_member", "sha256sum"]

_log = logging.getLogger(__name__)
_TIMEOUT = (10, 60)  # seconds to connect, seconds between bytes


def data_dir() -> Path | None:
    """Return the folder named by `$D2LITE_DATA` (a local copy of the datasets), or None if unset.

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, {"D2LITE_DATA": "/data/d2lite"}):
        ...     data_dir()
        PosixPath('/data/d2lite')
    """
    value = os.environ.get("D2LITE_DATA", "").strip()
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """Return the download cache: `$D2LITE_CACHE`, or `~/.cache/d2lite` when that is unset.

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, {"D2LITE_CACHE": ""}):   # unset or blank
        ...     cache_dir() == Path.home() / ".cache" / "d2lite"
        True
    """
    value = os.environ.get("D2LITE_CACHE", "").strip()
    return Path(value).expanduser() if value else Path.home() / ".cache" / "d2lite"


def sha256sum(path: str | os.PathLike) -> str:
    """Return the sha256 of the file at `path` as 64 hex digits, reading it in 1 MiB chunks.

    Example:
        >>> import tempfile; empty = Path(tempfile.mkdtemp()) / "empty.txt"; empty.touch()
        >>> sha256sum(empty)
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
        >>> path, ok = locate("mnist", "t10k-labels-idx1-ubyte.gz")   # downloads nothing
        >>> path is None or (path.name, ok) == ("t10k-labels-idx1-ubyte.gz", True)
        True
    """
    entry = _entry("locate", name, file, REGISTRY if registry is None else registry)
    for root in (data_dir(), cache_dir()):
        if root is not None and (root / name / entry.name).is_file():
            return root / name / entry.name, _mismatch(root / name / entry.name, entry) is None
    return None, False


def read_member(archive: str | os.PathLike, member: str) -> bytes:
    """Return the bytes of one member of a zip or tar archive (any compression), read in memory.

    Nothing is extracted to disk, so a hostile member name or link cannot write anywhere.

    Example:
        >>> import tempfile; path = f"{tempfile.mkdtemp()}/pair.zip"
        >>> with zipfile.ZipFile(path, "w") as zf:
        ...     zf.writestr("pair/x.txt", "first member")
        >>> read_member(path, "pair/x.txt")
        b'first member'
    """
    archive = Path(archive)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            if member in zf.namelist():
                return zf.read(member)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            try:
                f = tf.extractfile(member)  # None for a folder
            except KeyError:  # no such member, or a link to one that is not there
                f = None
            if f is not None:
                return f.read()
    else:
        raise ValueError(f"read_member(): {archive.name} is neither a zip nor a tar archive")
    raise ValueError(f"read_member(): {archive.name} has no member {member!r}")


def _mismatch(file: Path | bytes, entry: DataFile) -> str | None:
    """Return why `file` (a path, or bytes read from an archive) is not `entry`, or None."""
    in_memory = isinstance(file, bytes)
    actual = hashlib.sha256(file).hexdigest() if in_memory else sha256sum(file)
    size = len(file) if in_memory else file.stat().st_size
    return None if actual == entry.sha256 else (
        f"sha256 {actual} ({size:,} bytes) but expected {entry.sha256} ({entry.size:,} bytes)")


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
    """Download one source beside `dest`; check the file (or its member) and move it into place.

    An archive's member is read in memory, hash-checked, written to a temporary file and renamed
    over `dest`; the dataset's other files in the same archive are kept the same way.
    """
    import pooch  # lazily: `import d2lite` must not import pooch

    downloader = pooch.HTTPDownloader(progressbar=verbose, chunk_size=1 << 16, timeout=_TIMEOUT)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=dest.parent) as tmp:
        fresh = Path(tmp) / (Path(urllib.parse.urlsplit(source.url).path).name or "download")
        downloader(source.url, str(fresh), None)
        if source.member is None:
            if problem := _mismatch(fresh, entry):
                raise ValueError(f"the file served has {problem}")
            os.replace(fresh, dest)
            return
        siblings = [(alt.member, other) for other in others for alt in other.sources
                    if alt.url == source.url and alt.member]
        for member, wanted in [(source.member, entry), *siblings]:
            try:
                data = read_member(fresh, member)
                if problem := _mismatch(data, wanted):
                    raise ValueError(f"member {member!r} has {problem}")
            except ValueError:
                if wanted is entry:
                    raise
                continue  # a sibling that is not there or not right: fetched on its own later
            (Path(tmp) / wanted.name).write_bytes(data)
            os.replace(Path(tmp) / wanted.name, dest.parent / wanted.name)


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
        >>> fetch("timemachine").name   # from $D2LITE_DATA or the cache, else downloaded once
        'timemachine.txt'
    """
    registry = REGISTRY if registry is None else registry
    entry = _entry("fetch", name, file, registry)
    root = data_dir()
    if root is not None and (path := root / name / entry.name).is_file():
        if problem := _mismatch(path, entry):
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
