#!/usr/bin/env bash
# Builds IP Studio and runs every test: the normal build with warnings as errors, then the core tests
# again under AddressSanitizer + UndefinedBehaviorSanitizer. Installs missing packages first.
# Then builds the .deb, installs it, runs the installed programs and removes it (scripts/package-smoke.sh).
# Usage: scripts/test.sh [--no-sanitizers] [--no-package]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --packaging

export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
export CCACHE_BASEDIR="$PWD"  # cache hits across clones in different folders
jobs=$(nproc)

cmake --preset ci
cmake --build --preset ci -j "$jobs"
ctest --preset ci

if [[ " $* " != *" --no-package "* ]]; then
  scripts/package-smoke.sh
fi

if [[ " $* " != *" --no-sanitizers "* ]]; then
  cmake --preset asan
  cmake --build --preset asan -j "$jobs"
  ctest --preset asan
fi
