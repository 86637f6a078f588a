"""Tests for d2lite.hub (fetch, read_member, locate) and d2lite.registry. No network: downloads come
from a tiny HTTP server on 127.0.0.1 that the tests start themselves."""
import hashlib
import http.server
import io
import os
import re
import socket
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from d2lite.hub import fetch, locate, read_member, sha256sum
from d2lite.registry import REGISTRY, DataFile, Source

GOOD = b"the right file\n" * 100
WRONG = b"an HTML error page pretending to be the file\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """No D2LITE_DATA, an empty cache, and no proxy between us and 127.0.0.1."""
    monkeypatch.delenv("D2LITE_DATA", raising=False)
    monkeypatch.setenv("D2LITE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1 serving `server.routes` (path -> bytes); 404 otherwise."""
    routes: dict[str, bytes] = {}
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            body = routes.get(self.path)
            if body is None:
                self.send_error(404, "File not found")
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep test output clean
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    httpd.routes, httpd.hits = routes, hits
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def closed_url():
    """A URL on a port where nothing listens: connecting fails at once, as when offline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/toy.txt"


def toy_registry(*urls: str, data: bytes = GOOD) -> dict:
    return {"toy": (DataFile("toy.txt", sha(data), len(data), tuple(Source(u) for u in urls)),)}


# ---- fetch: downloads, mirrors, hashes ---------------------------------------------------------

def test_fetch_falls_through_404_and_wrong_file_to_the_right_one(env, server, caplog):
    server.routes.update({"/wrong/toy.txt": WRONG, "/right/toy.txt": GOOD})
    urls = [f"{server.url}/missing/toy.txt", f"{server.url}/wrong/toy.txt",
            f"{server.url}/right/toy.txt"]
    path = fetch("toy", registry=toy_registry(*urls), verbose=True)
    assert path == env / "cache" / "toy" / "toy.txt"
    assert path.read_bytes() == GOOD
    assert server.hits == ["/missing/toy.txt", "/wrong/toy.txt", "/right/toy.txt"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines  # one line per failed URL
    assert urls[0] in lines[0] and "HTTP 404" in lines[0] and "trying the next URL" in lines[0]
    assert urls[1] in lines[1] and f"sha256 {sha(WRONG)}" in lines[1] and sha(GOOD) in lines[1]
    assert sorted(p.name for p in path.parent.iterdir()) == ["toy.txt"]  # no temp files left
    # a second call uses the cache: no request
    assert fetch("toy", registry=toy_registry(*urls)) == path and len(server.hits) == 3


def test_fetch_all_urls_fail_lists_each_and_explains_d2lite_data(env, server, closed_url):
    server.routes["/wrong/toy.txt"] = WRONG
    urls = [f"{server.url}/missing/toy.txt", f"{server.url}/wrong/toy.txt", closed_url]
    with pytest.raises(RuntimeError) as info:
        fetch("toy", registry=toy_registry(*urls), verbose=False)
    message = str(info.value)
    assert message.startswith("fetch(): could not download toy/toy.txt")
    assert "tried 3 URL(s)" in message
    for url, reason in zip(urls, ["HTTP 404", "sha256", "could not connect"], strict=True):
        assert re.search(re.escape(url) + ": .*" + reason, message), (url, message)
    assert "D2LITE_DATA" in message and "<folder>/toy/toy.txt" in message
    assert info.value.__cause__ is None and info.value.__context__ is None  # no network traceback
    assert not (env / "cache" / "toy").exists()  # no file, not even an empty folder


def test_fetch_offline_and_missing_names_dataset_file_url_and_d2lite_data(env, closed_url):
    entry = REGISTRY["mnist"][3]  # t10k-labels-idx1-ubyte.gz, with its real hash and size
    url = closed_url.replace("toy.txt", entry.name)
    registry = {"mnist": (DataFile(entry.name, entry.sha256, entry.size, (Source(url),)),)}
    with pytest.raises(RuntimeError) as info:
        fetch("mnist", "t10k-labels-idx1-ubyte.gz", registry=registry, verbose=False)
    message = str(info.value)
    assert "could not download mnist/t10k-labels-idx1-ubyte.gz (4,542 bytes)" in message
    assert f"{url}: could not connect (offline, or the host is down)" in message
    assert "point D2LITE_DATA at <folder>" in message and "export D2LITE_DATA=" in message
    assert "HTTPConnectionPool" not in message and "Traceback" not in message


def test_fetch_uses_a_good_file_in_d2lite_data_without_network(env, closed_url, monkeypatch):
    (env / "data" / "toy").mkdir(parents=True)
    (env / "data" / "toy" / "toy.txt").write_bytes(GOOD)
    monkeypatch.setenv("D2LITE_DATA", str(env / "data"))
    assert fetch("toy", registry=toy_registry(closed_url)) == env / "data" / "toy" / "toy.txt"


def test_fetch_wrong_file_in_d2lite_data_is_an_error_with_both_hashes(env, server, monkeypatch):
    server.routes["/toy.txt"] = GOOD
    (env / "data" / "toy").mkdir(parents=True)
    bad = env / "data" / "toy" / "toy.txt"
    bad.write_bytes(WRONG)
    monkeypatch.setenv("D2LITE_DATA", str(env / "data"))
    with pytest.raises(ValueError) as info:
        fetch("toy", registry=toy_registry(f"{server.url}/toy.txt"))
    message = str(info.value)
    assert message.startswith(f"fetch(): {bad} has sha256 {sha(WRONG)}")
    assert f"but expected {sha(GOOD)} ({len(GOOD):,} bytes)" in message
    assert "replace it with a good copy, or unset D2LITE_DATA" in message
    assert server.hits == [] and bad.read_bytes() == WRONG  # never used, never touched


def test_fetch_downloads_a_damaged_cache_file_again(env, server, caplog):
    server.routes["/toy.txt"] = GOOD
    cached = env / "cache" / "toy" / "toy.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(GOOD[:-7])  # an interrupted copy
    assert fetch("toy", registry=toy_registry(f"{server.url}/toy.txt")) == cached
    assert cached.read_bytes() == GOOD and server.hits == ["/toy.txt"]
    assert "damaged (wrong sha256); downloading it again" in caplog.records[0].getMessage()


def test_fetch_keeps_the_damaged_cache_file_when_the_download_fails(env, closed_url):
    cached = env / "cache" / "toy" / "toy.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(WRONG)
    with pytest.raises(RuntimeError, match="could not download toy/toy.txt"):
        fetch("toy", registry=toy_registry(closed_url), verbose=False)
    assert cached.read_bytes() == WRONG


def test_fetch_verbose_false_prints_nothing(env, server, caplog, capfd):
    server.routes["/right/toy.txt"] = GOOD
    urls = [f"{server.url}/missing/toy.txt", f"{server.url}/right/toy.txt"]
    fetch("toy", registry=toy_registry(*urls), verbose=False)
    assert caplog.records == []
    assert capfd.readouterr() == ("", "")


def test_fetch_takes_a_member_from_an_archive_and_keeps_its_siblings(env, server):
    x, y = b"first member\n", b"second member\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("pair/x.txt", x)
        zf.writestr("pair/y.txt", y)
    server.routes["/pair.zip"] = buffer.getvalue()
    url = f"{server.url}/pair.zip"
    registry = {"pair": (DataFile("x.txt", sha(x), len(x), (Source(url, "pair/x.txt"),)),
                         DataFile("y.txt", sha(y), len(y), (Source(url, "pair/y.txt"),)))}
    assert fetch("pair", "x.txt", registry=registry, verbose=False).read_bytes() == x
    assert fetch("pair", "y.txt", registry=registry, verbose=False).read_bytes() == y
    assert server.hits == ["/pair.zip"]  # one download gave both files
    assert sorted(p.name for p in (env / "cache" / "pair").iterdir()) == ["x.txt", "y.txt"]


def test_fetch_archive_without_the_member_falls_through(env, server, caplog):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("other.txt", GOOD)
    server.routes.update({"/a.zip": buffer.getvalue(), "/toy.txt": GOOD})
    entry = DataFile("toy.txt", sha(GOOD), len(GOOD),
                     (Source(f"{server.url}/a.zip", "toy.txt"), Source(f"{server.url}/toy.txt")))
    assert fetch("toy", registry={"toy": (entry,)}).read_bytes() == GOOD
    assert "read_member(): a.zip has no member 'toy.txt'" in caplog.records[0].getMessage()


def test_fetch_explains_unknown_names():
    with pytest.raises(ValueError, match=r"fetch\(\): unknown dataset 'mnits'; known datasets: mn"):
        fetch("mnits")
    with pytest.raises(ValueError, match=r"dataset 'mnist' has 4 files \(train-images-idx3-ubyte"
                                         r".*pass file=, e.g. fetch\('mnist', 'train-images"):
        fetch("mnist")
    with pytest.raises(ValueError, match=r"dataset 'ptb' has no file 'train.txt'; its files: ptb"):
        fetch("ptb", "train.txt")


def test_locate_reports_path_and_hash(env, monkeypatch):
    registry = toy_registry("http://unused.invalid/toy.txt")
    assert locate("toy", registry=registry) == (None, False)
    cached = env / "cache" / "toy" / "toy.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(WRONG)
    assert locate("toy", registry=registry) == (cached, False)
    cached.write_bytes(GOOD)
    assert locate("toy", registry=registry) == (cached, True)
    assert sha256sum(cached) == sha(GOOD)


# ---- archives: one member read in memory, nothing extracted --------------------------------------

def make_tar(path: Path, members: list[tuple[str, bytes | None, str | None]]) -> Path:
    """members: (name, data for a file, or None and a symlink's target, or None, None: a folder)."""
    with tarfile.open(path, "w:gz") as tf:
        for name, data, target in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.SYMTYPE if target else tarfile.DIRTYPE
                info.linkname = target or ""
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return path


def test_read_member_of_a_zip_and_a_tar(tmp_path):
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as zf:
        zf.writestr("d/a.txt", b"A")
    assert read_member(tmp_path / "a.zip", "d/a.txt") == b"A"
    tar = make_tar(tmp_path / "a.tar.gz", [("d/a.txt", b"A", None), ("d", None, None)])
    assert read_member(tar, "d/a.txt") == b"A"
    for archive, member in ((tmp_path / "a.zip", "d/b.txt"), (tar, "d/b.txt"), (tar, "d")):
        with pytest.raises(ValueError, match=rf"read_member\(\): {archive.name} has no member "
                                             f"'{member}'"):
            read_member(archive, member)
    (tmp_path / "notes.txt").write_text("plain text")
    with pytest.raises(ValueError, match=r"read_member\(\): notes.txt is neither a zip nor a tar"):
        read_member(tmp_path / "notes.txt", "notes.txt")


def test_hostile_member_names_and_links_write_nothing(env, server):
    """Names with '..', absolute paths and links out of the archive: reading in memory and
    writing only to the registry's own file name leaves no file anywhere else."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("../../evil.txt", b"x")
        zf.writestr("/tmp/evil_abs.txt", b"x")
        zf.writestr("pair/x.txt", GOOD)
    server.routes["/pair.zip"] = buffer.getvalue()
    tar = make_tar(env / "links.tar.gz", [("link", None, "/etc/passwd"), ("../up.txt", GOOD, None)])
    server.routes["/links.tar.gz"] = tar.read_bytes()
    registry = {"toy": (DataFile("toy.txt", sha(GOOD), len(GOOD), (
        Source(f"{server.url}/links.tar.gz", "link"),  # a link's target is not in the archive
        Source(f"{server.url}/pair.zip", "pair/x.txt"))),)}
    before = sorted(p.name for p in env.iterdir())
    assert fetch("toy", registry=registry, verbose=False).read_bytes() == GOOD
    assert sorted(p.name for p in env.iterdir()) == sorted([*before, "cache"])
    assert [p.name for p in (env / "cache" / "toy").iterdir()] == ["toy.txt"]
    assert not Path("/tmp/evil_abs.txt").exists()


def test_fetch_takes_a_member_from_a_tar(env, server):
    tar = make_tar(env / "t.tar.gz", [("data/toy.txt", GOOD, None)])
    server.routes["/t.tar.gz"] = tar.read_bytes()
    registry = {"toy": (DataFile("toy.txt", sha(GOOD), len(GOOD),
                                 (Source(f"{server.url}/t.tar.gz", "data/toy.txt"),)),)}
    assert fetch("toy", registry=registry, verbose=False).read_bytes() == GOOD


# ---- the registry and the package ------------------------------------------------------------

def test_registry_entries_are_complete():
    for name, files in REGISTRY.items():
        for entry in files:
            assert re.fullmatch("[0-9a-f]{64}", entry.sha256), (name, entry.name)
            assert entry.size > 0 and len(entry.sources) >= 2, (name, entry.name)
            urls = [source.url for source in entry.sources]
            assert len(set(urls)) == len(urls), (name, entry.name)
            assert all(u.startswith(("http://", "https://")) for u in urls)
    first = REGISTRY["mnist"][0].sources[0].url
    assert first == "http://yann.lecun.com/exdb/mnist/train-images-idx3-ubyte.gz"


@pytest.mark.skipif(not os.environ.get("D2LITE_DATA"), reason="needs D2LITE_DATA (CI sets it)")
def test_registry_matches_the_sha256sums_of_d2lite_data():
    root = Path(os.environ["D2LITE_DATA"])
    sums = dict(reversed(line.split()) for line in (root / "SHA256SUMS").read_text().splitlines())
    listed = {f"{name}/{entry.name}": entry.sha256 for name, files in REGISTRY.items()
              for entry in files}
    assert listed.items() <= sums.items()  # the folder may hold files of lessons to come
    for name, files in REGISTRY.items():
        for entry in files:
            assert (root / name / entry.name).stat().st_size == entry.size
