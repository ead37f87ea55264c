#!/usr/bin/env bash
# Builds the .deb from the CI build (build-ci), installs it on this machine, checks the installed programs
# (ipstudio-cli --version, the window offscreen with --smoke-test, the desktop entry and AppStream
# metainfo), and removes the package again. Run by scripts/test.sh after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

cmake --build --preset ci --target package
deb=$(ls -t build-ci/ipstudio_*_*.deb | head -n 1)
echo "package-smoke: $deb"
dpkg-deb --info "$deb" | sed -n '/Package:/,/Description:/p'

if dpkg-query -W -f='${Status}' ipstudio 2>/dev/null | grep -q "install ok installed"; then
  echo "package-smoke: ipstudio is already installed here; not touching it" >&2
  exit 1
fi
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "./$deb"
trap '$sudo env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq ipstudio' EXIT

prefix=$(dirname "$(dirname "$(dpkg -L ipstudio | grep '/bin/ipstudio-cli$')")")
"$prefix/bin/ipstudio-cli" --version
desktop-file-validate "$prefix/share/applications/io.github.ipstudio.IPStudio.desktop"
appstreamcli validate --no-net "$prefix/share/metainfo/io.github.ipstudio.IPStudio.metainfo.xml"
test -f "$prefix/share/icons/hicolor/scalable/apps/io.github.ipstudio.IPStudio.svg"
# The window from the installed location, with a fresh home: it must start, find its model
# configurations beside itself, and exit cleanly.
home=$(mktemp -d)
(cd "$home" && HOME="$home" XDG_RUNTIME_DIR="$home" QT_QPA_PLATFORM=offscreen timeout 60 "$prefix/bin/ipstudio" --smoke-test)
rm -rf "$home"
echo "package-smoke: installed, ran and removed"
