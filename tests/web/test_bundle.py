"""The committed bundle matches its sources, ships what index.html names, and stays small."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import orjson

from heron.api.web.assets import UI_SECTIONS
from heron.web import static_dir

WEB = Path(__file__).resolve().parents[2] / "web"
#: What the build hashes besides src/ (web/build.mjs, EXTRA): change one, and the bundle is stale.
EXTRA = ("build.mjs", "package-lock.json", "tsconfig.json", "index.html")
#: The issue's budget for the overview's first load: JS + CSS, compressed.
FIRST_LOAD_BUDGET_BYTES = 150 * 1024


def sources_sha256() -> str:
    """The hash ``web/build.mjs`` writes into the manifest, computed the same way."""
    files = [p.relative_to(WEB).as_posix() for p in (WEB / "src").rglob("*") if p.is_file()]
    files += list(EXTRA)
    digest = hashlib.sha256()
    for rel in sorted(f for f in files if not f.endswith(".test.ts")):
        digest.update(rel.encode() + b"\0")
        digest.update((WEB / rel).read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def manifest() -> dict[str, object]:
    data: dict[str, object] = orjson.loads((static_dir() / "manifest.json").read_bytes())
    return data


def test_the_committed_bundle_was_built_from_the_current_sources() -> None:
    assert manifest()["sources_sha256"] == sources_sha256(), (
        "heron/web/static/ is older than web/: run `make web` and commit the result"
    )


def test_index_names_the_built_files_and_each_has_a_matching_gzip_twin() -> None:
    files = manifest()["files"]
    assert isinstance(files, dict) and {"app.js", "app.css", "status.js"} <= set(files)
    index = (static_dir() / "index.html").read_text()
    assert f"/assets/{files['app.js']}" in index and f"/assets/{files['app.css']}" in index
    for name in files.values():
        raw = (static_dir() / "assets" / name).read_bytes()
        assert gzip.decompress((static_dir() / "assets" / f"{name}.gz").read_bytes()) == raw
    on_disk = {p.name for p in (static_dir() / "assets").iterdir()}
    assert on_disk == {n for name in files.values() for n in (name, f"{name}.gz")}, "stale files in assets/"


def test_the_first_load_fits_the_budget() -> None:
    """app.js, every chunk it imports statically, and app.css; lazy chunks (the terminal) load later."""
    files = manifest()["files"]
    first_load = manifest()["first_load"]
    assert isinstance(files, dict) and isinstance(first_load, list)
    assert files["app.js"] in first_load and files["app.css"] in first_load
    app = (static_dir() / "assets" / files["app.js"]).read_text()
    for chunk in re.findall(r"""from\s*["']\./(chunk-[^"']+\.js)["']""", app):
        assert chunk in first_load, f"app.js imports {chunk} at load, but the manifest leaves it out of first_load"
    size = sum((static_dir() / "assets" / f"{name}.gz").stat().st_size for name in first_load)
    assert size <= FIRST_LOAD_BUDGET_BYTES, f"JS + CSS is {size} bytes compressed"


def test_the_server_serves_every_section_the_ui_routes() -> None:
    routes = (WEB / "src" / "routes.ts").read_text()
    found = re.search(r"SECTIONS = \[([^\]]*)\]", routes)
    assert found is not None
    assert set(re.findall(r'"([a-z-]+)"', found.group(1))) == set(UI_SECTIONS)


def test_no_request_leaves_the_machine() -> None:
    """No CDN or remote font: the bundle and index.html name no other host."""
    files = manifest()["files"]
    assert isinstance(files, dict)
    texts = [(static_dir() / "index.html").read_text()]
    texts += [(static_dir() / "assets" / name).read_text() for name in files.values()]
    for text in texts:
        for url in re.findall(r"""(?:src|href)\s*=\s*["'](https?://[^"']+)""", text):
            raise AssertionError(f"the UI loads {url}")
        assert "fonts.googleapis" not in text and "cdn." not in text
