"""The model registry: shipped models, verified cached downloads from a real local server, `scribe models`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers.basics import tiny_model_file
from helpers.server import Server
from scribe.cli import app
from scribe.errors import ScribeError
from scribe.writing import registry as models
from scribe.writing.network import load_inference_model
from scribe.writing.registry import (
    REGISTRY,
    ModelEntry,
    download_model,
    installed_path,
    resolve_model,
)
from scribe.writing.stored import StoredModel


@pytest.mark.parametrize("name", [name for name, entry in REGISTRY.items() if entry.package_file])
def test_every_packaged_model_ships_and_loads(name: str) -> None:
    path = installed_path(REGISTRY[name])
    assert path is not None, f"{name} is registered as shipped but its file is not in the package"
    stored = StoredModel.load(path)
    assert stored.kind.name == REGISTRY[name].kind
    if stored.kind.writes:
        assert len(load_inference_model(path).builtin_styles) >= 8


@pytest.fixture
def hosted(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scribe_home: Path) -> tuple[Server, bytes]:  # noqa: F811
    """A model served over HTTP and registered as ``tiny-online``."""
    data = tiny_model_file(tmp_path / "tiny.npz").read_bytes()
    url = server.add("/models/tiny-online.npz", data)
    entry = ModelEntry("tiny-online", "graves", "a test model", url=url, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    monkeypatch.setitem(REGISTRY, entry.name, entry)
    return server, data


def test_a_downloaded_model_is_verified_cached_and_used_by_name(hosted: tuple[Server, bytes], scribe_home: Path) -> None:
    host, data = hosted
    reported: list[tuple[int, int | None]] = []
    path = download_model("tiny-online", lambda done, total: reported.append((done, total)))
    assert path == scribe_home / "models" / "tiny-online.npz" and path.read_bytes() == data
    assert reported and reported[-1] == (len(data), len(data))
    assert resolve_model("tiny-online") == path  # from the cache: no second request
    assert host.routes["/models/tiny-online.npz"].hits == 1
    assert StoredModel.load(path).kind.name == "graves" and not load_inference_model(path).is_vae


def test_a_download_that_fails_verification_leaves_nothing(
    hosted: tuple[Server, bytes], monkeypatch: pytest.MonkeyPatch, scribe_home: Path
) -> None:
    entry = REGISTRY["tiny-online"]
    monkeypatch.setitem(REGISTRY, entry.name, ModelEntry(**{**vars(entry), "sha256": "0" * 64}))
    with pytest.raises(ScribeError, match="SHA-256|checksum"):
        download_model("tiny-online")
    assert installed_path(REGISTRY["tiny-online"]) is None


def test_models_command_lists_installed_and_downloadable_models(hosted: tuple[Server, bytes]) -> None:
    runner = CliRunner()
    listing = runner.invoke(app, ["models"])
    assert listing.exit_code == 0, listing.output
    assert "graves-iam-unipen (default)" in listing.output and "graves-iam " in listing.output
    assert "recognizer-iam" in listing.output
    assert "not downloaded" in listing.output and "scribe models download tiny-online" in listing.output
    fetched = runner.invoke(app, ["models", "download", "tiny-online"])
    assert fetched.exit_code == 0, fetched.output
    assert "not downloaded" not in runner.invoke(app, ["models"]).output


def test_names_and_paths_resolve_and_unknown_names_say_what_exists(tmp_path: Path) -> None:
    model = tiny_model_file(tmp_path / "mine.npz")
    assert resolve_model(str(model)) == model
    assert resolve_model(models.DEFAULT_MODEL) == installed_path(REGISTRY[models.DEFAULT_MODEL])
    with pytest.raises(ScribeError, match="unknown model 'nope'.*graves-iam"):
        resolve_model("nope")
    with pytest.raises(ScribeError, match="not found"):
        resolve_model(str(tmp_path / "missing.npz"))
