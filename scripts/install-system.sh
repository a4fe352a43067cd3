#!/usr/bin/env bash
# Installs the Debian packages rendering needs. Idempotent: skips apt when everything is present.
set -euo pipefail
PKGS=(ffmpeg libcairo2-dev libpango1.0-dev pkg-config bubblewrap
      texlive-latex-base texlive-latex-recommended texlive-latex-extra
      texlive-fonts-recommended dvisvgm cm-super-minimal
      espeak-ng  # the fallback voice when no neural voice is installed
      chromium   # headless browser tests of the Dagster UI and of served videos
      postgresql redis-server)  # cluster mode (make up-cluster): servers of our own under var/
# Node.js runs the Convex functions' type-check and tests; the Python image ships it already.
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "system packages: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: done"
