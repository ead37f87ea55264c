#!/usr/bin/env bash
# Builds IP Studio and starts the desktop application (arguments go to it). Installs missing packages first.
# Usage: scripts/run.sh [ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
export CCACHE_BASEDIR="$PWD"
# The same build as scripts/test.sh (the ci preset, build-ci/): running the tests afterwards compiles only
# the tests, and the other way round.
cmake --preset ci >/dev/null
cmake --build --preset ci -j "$(nproc)" --target ipstudio ipstudio-cli
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
  echo "run.sh: no display found (DISPLAY/WAYLAND_DISPLAY unset). Start it from a desktop session, or under Xvfb:" >&2
  echo "  Xvfb :99 & DISPLAY=:99 scripts/run.sh" >&2
  exit 1
fi
exec build-ci/app/ipstudio "$@"
