#!/usr/bin/env bash
# Installs the Debian packages Parley needs (engines, audio tools, test servers).
# Idempotent: packages already present are not fetched again, and apt-get update runs only when
# something is missing. Runs as root, or through sudo when it is available.
set -euo pipefail

# Each package earns its place; the comment says which feature needs it.
PACKAGES=(
)

if [ ${#PACKAGES[@]} -eq 0 ]; then
  exit 0
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-system: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-system: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
