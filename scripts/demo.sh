#!/usr/bin/env bash
# The main job on the bundled emulator. Filled in by the desired-state and plan/apply work.
set -euo pipefail
symsync validate --config-dir configs
