#!/usr/bin/env bash
# The main job on the bundled emulator. For now it validates the example desired state in
# configs/ (offline: no token, no secrets); plan and apply against the emulator come next.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== symsync validate --config-dir configs"
symsync validate --config-dir configs
