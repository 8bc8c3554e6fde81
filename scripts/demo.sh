#!/usr/bin/env bash
# The main job on the bundled sample: set up, generate the synthetic talking portrait, train the CPU-sized
# rad-nerf on it (head, then torso), evaluate it, and show where to look. Rendering a video with a new
# driving audio joins this script with rad-render (see README, Status).
# Usage: bash scripts/demo.sh [WORK_DIR]   (default: demo/)
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-demo}"
bash scripts/setup.sh

# Real text-to-speech makes the sample's speech more natural; without it rad-sample uses its
# built-in formant synthesizer. Installed only where we may (root with apt-get).
if ! command -v espeak-ng >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "[demo] installing espeak-ng for the sample's speech"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng >/dev/null) \
    || echo "[demo] espeak-ng not installed; using the built-in speech synthesizer"
fi

start=$(date +%s)
.venv/bin/rad-sample "$work/sample" --overwrite
.venv/bin/ns-train rad-nerf-small --data "$work/sample" --vis tensorboard --output-dir "$work/outputs" \
  --timestamp demo
config="$work/outputs/sample/rad-nerf-small/demo/config.yml"
.venv/bin/ns-eval --load-config "$config" --output-path "$work/metrics.json"
.venv/bin/python benchmarks/audio_ablation.py --load-config "$config" --output "$work/audio_ablation.json"
echo "[demo] done in $(( $(date +%s) - start )) s. Look at:"
echo "  $work/sample/gt/contact_sheet.png   frames of the portrait"
echo "  $work/sample/gt/layers.png          a frame, its landmarks, parsing, torso layer, background"
echo "  $work/sample/raw/video.mp4          the video with its speech"
echo "  $work/metrics.json                  validation PSNR / SSIM of the trained portrait (ns-eval)"
echo "  $work/audio_ablation.json, .png     lips PSNR with the true audio vs other audio, and lips crops"
echo "  $config                             open it with: ns-viewer --load-config $config"
