#!/usr/bin/env bash
# Installs the Debian 12 packages IP Studio needs to build and test, and only those that are missing.
# Usage: scripts/install-deps.sh [--fuzz] [--screenshots] [--packaging]
set -euo pipefail

packages=(
  cmake g++ make ccache pkg-config
  qt6-base-dev libtorch-dev libopencv-dev nlohmann-json3-dev
  libqt6sql6-sqlite      # the library index (Qt SQL's SQLite driver)
  qtkeychain-qt6-dev     # the access token in the desktop's secret store
  libdnnl-dev            # oneDNN headers: convolution weights packed once (core/src/nn/packed_conv.cpp)
  libopenblas0-pthread   # without it LibTorch's matmuls use the reference BLAS (34x slower)
)
for arg in "$@"; do
  case "$arg" in
    --fuzz) packages+=(clang libclang-rt-14-dev) ;;
    --screenshots) packages+=(xvfb xauth imagemagick) ;;
    --packaging) packages+=(dpkg-dev desktop-file-utils appstream qt6-image-formats-plugins) ;;
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
