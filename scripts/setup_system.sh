#!/usr/bin/env bash
# Debian packages Ocelot needs outside the venv: headless EGL/Mesa for MuJoCo's renderer,
# cmake and a compiler for the message package. Installs only what is missing.
set -euo pipefail
PACKAGES=(cmake g++ make libegl1 libegl-mesa0 libgl1-mesa-dri libgles2 python3-venv)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup_system: Debian packages present"
  exit 0
fi
echo "setup_system: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup_system: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
