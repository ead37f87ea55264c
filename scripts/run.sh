#!/usr/bin/env bash
# Builds IP Studio and starts it. Until the desktop window lands, the application is ipstudio-cli.
# Usage: scripts/run.sh [ARGS...]   (default: --help)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc)" --target ipstudio-cli
if [ $# -eq 0 ]; then set -- --help; fi
exec build/app/ipstudio-cli "$@"
