"""The plugin installs under the rad_nerfstudio namespace and its entry modules stay light."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = (
    "lpips",
    "face_alignment",
    "torchaudio",
    "av",
    "cv2",
    "tinycudann",
    "soundfile",
    "rad_nerfstudio.sample",
    "rad_nerfstudio.data.build_tables",
    "rad_nerfstudio.audio.features",
)


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_folder_is_listed_in_pyproject():
    config = _pyproject()["tool"]["setuptools"]
    listed = set(config["packages"])
    mapping = config["package-dir"]
    found = set()
    for name, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]))
    data_only = set(config.get("package-data", {})) - found  # folders of files, such as the kernels' sources
    assert found | data_only == listed
    for name in data_only:
        parent, _, child = name.rpartition(".")
        assert (ROOT / mapping[parent] / child).is_dir(), name


def test_method_configs_is_one_file_seen_under_the_package():
    link = ROOT / "rad_nerfstudio" / "method_configs.py"
    assert link.is_symlink() and link.resolve() == (ROOT / "method_configs.py").resolve()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(ROOT), "-w", str(out)],
        check=True,
        capture_output=True,
        cwd=out,
    )
    return next(out.glob("rad_nerfstudio-*.whl"))


def test_wheel_installs_everything_under_rad_nerfstudio(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top_level == {"rad_nerfstudio"}
    for module in (
        "rad_nerfstudio/method_configs.py",
        "rad_nerfstudio/dataparsers/__init__.py",
        "rad_nerfstudio/cuda/__init__.py",
        "rad_nerfstudio/cuda/csrc/kernels_cpu.cpp",
        "rad_nerfstudio/cuda/csrc/kernels_cuda.cu",
        "rad_nerfstudio/cuda/csrc/common.h",
        "rad_nerfstudio/sample/generate.py",
    ):
        assert module in names
    with zipfile.ZipFile(wheel) as archive:
        assert b"allow_numpy_scalars_in_checkpoints" in archive.read("rad_nerfstudio/method_configs.py")
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "rad-sample = rad_nerfstudio.scripts.sample:entrypoint" in entry_points
    assert (
        "talking-portrait-data = rad_nerfstudio.dataparsers.talking_portrait_dataparser:talking_portrait_dataparser"
        in entry_points
    )


def test_installed_distribution_exposes_the_console_script():
    scripts = {e.name: e.value for e in importlib.metadata.entry_points(group="console_scripts")}
    assert scripts["rad-sample"] == "rad_nerfstudio.scripts.sample:entrypoint"


def test_no_top_level_modules_leak_and_entry_modules_import_nothing_heavy(tmp_path):
    """Our entry-point modules add no heavy import beyond the nerfstudio modules they build on."""
    probe = (
        "import importlib.util, sys\n"
        "assert importlib.util.find_spec('dataparsers') is None\n"
        "assert importlib.util.find_spec('method_configs') is None\n"
        "import nerfstudio.cameras.cameras, nerfstudio.data.dataparsers.base_dataparser\n"
        "import nerfstudio.plugins.registry_dataparser\n"
        "before = set(sys.modules)\n"
        "import rad_nerfstudio.method_configs, rad_nerfstudio.dataparsers, rad_nerfstudio.cuda\n"
        "import rad_nerfstudio.dataparsers.talking_portrait_dataparser\n"
        "added = set(sys.modules) - before\n"
        f"heavy = [m for m in {HEAVY!r} if m in added]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, cwd=tmp_path)
