#!/usr/bin/env bash
# Create .venv with rad-nerfstudio (editable) and its pinned dependencies. Safe to run again:
# it reinstalls only when pyproject.toml changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin="${PYTHON:-}"
if [ -z "$python_bin" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python_bin="$candidate"; break; fi
  done
fi
"$python_bin" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "rad-nerfstudio needs Python >= 3.11")'

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $("$python_bin" --version)"
  "$python_bin" -m venv .venv
fi
stamp=.venv/.rad-nerfstudio-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "[setup] installing rad-nerfstudio and its dependencies (first time: a few minutes, ~5 GB)"
  .venv/bin/python -m pip install --quiet --upgrade pip "setuptools>=77,<82" wheel
  .venv/bin/python -m pip install --quiet -e ".[dev,process,speech]"
  touch "$stamp"
fi
# the fused CPU kernels (cuda/): compiled once here (about two minutes), cached by torch; the torch path otherwise
.venv/bin/python -m rad_nerfstudio.cuda.build
echo "[setup] ready: $(.venv/bin/python -c 'import rad_nerfstudio, torch, nerfstudio; print(f"rad-nerfstudio {rad_nerfstudio.__version__}, torch {torch.__version__}")')"
