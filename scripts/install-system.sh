#!/usr/bin/env bash
# Installs the Debian packages Parley needs (engines, voices, audio tools).
# Idempotent: packages already present are not fetched again, and apt-get update runs only when
# something is missing. Runs as root, or through sudo when it is available.
#
#   scripts/install-system.sh            everything: the servers' packages and the test tools
#   scripts/install-system.sh --runtime  only what the servers need (the container image)
set -euo pipefail

RUNTIME_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --runtime) RUNTIME_ONLY=1 ;;
    *) echo "usage: $0 [--runtime]" >&2; exit 2 ;;
  esac
done

# Each package earns its place; the comment says which feature needs it.
PACKAGES=(
  # SVOX Pico voices (TTS engine for en, es, fr, de, it). non-free.
  libttspico0 libttspico-data
  # Apertium, the embedded translation engine, and its language pairs (services/translate).
  apertium
  apertium-eng-spa  # en<->es, the hub of the default pivot routes
  apertium-fr-es    # es<->fr
  apertium-eng-cat  # en<->ca
  apertium-spa-cat  # es<->ca
  apertium-spa-ita  # es<->it
  apertium-es-pt    # es<->pt
  apertium-es-ro    # ro->es
  apertium-en-gl    # en<->gl
)

# Only for the tests and development, never needed by a server (left out with --runtime).
TEST_PACKAGES=(
  # pico2wave, espeak-ng and MBROLA voices speak the tests' and benchmarks' audio (tests/voices.py).
  libttspico-utils
  espeak-ng
  mbrola mbrola-us1 mbrola-us2 mbrola-en1 mbrola-fr1 mbrola-fr4 mbrola-de2 mbrola-de5
  mbrola-it3 mbrola-it4
  # Headless browser for the end-to-end test of the gateway's page (tests/gateway/test_page.py).
  chromium
  # A font for the page in headless Chromium (--no-install-recommends drops chromium's own).
  fonts-dejavu-core
  # docker-compose config validates docker-compose.yml with no Docker engine (tests/deploy).
  docker-compose
  # Redis (redis-server, redis-cli) as compose runs it, outside Docker (tests/deploy).
  redis-server
)

if [ "$RUNTIME_ONLY" -eq 0 ]; then
  PACKAGES+=("${TEST_PACKAGES[@]}")
  # Node.js and npm for the Node client (clients/node), unless some Node.js is already there
  # (NodeSource's nodejs bundles npm and conflicts with Debian's npm package).
  command -v node >/dev/null && command -v npm >/dev/null || PACKAGES+=(nodejs npm)
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ -n "$SUDO" ] && ! command -v sudo >/dev/null; then
  echo "install-system: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi

# Pico lives in Debian's non-free component, MBROLA (a test tool) in contrib. Enable both in a
# file of our own, reusing the mirror and suites of the system's main Debian source, without
# touching the system's own files.
enable_non_free() {
  local target=/etc/apt/sources.list.d/parley-non-free.sources
  if [ -f "$target" ] && grep -q contrib "$target"; then
    return 0
  fi
  if grep -rqsE '^[^#]*[[:space:]]non-free([[:space:]]|$)' /etc/apt/sources.list /etc/apt/sources.list.d/ \
    && grep -rqsE '^[^#]*[[:space:]]contrib([[:space:]]|$)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    return 0
  fi
  local stanza=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    # The first deb822 stanza whose suites are not the security ones.
    stanza=$(awk 'BEGIN{RS=""; FS="\n"} $0 !~ /security/ && $0 ~ /Suites:/ {print; exit}' \
      /etc/apt/sources.list.d/debian.sources | grep -E '^(Types|URIs|Suites|Signed-By):')
    stanza="$stanza"$'\nComponents: contrib non-free'
  elif [ -f /etc/apt/sources.list ]; then
    local line
    line=$(grep -E '^deb[[:space:]]' /etc/apt/sources.list | grep -v security | head -n 1)
    read -r _ uri suite _ <<<"$line"
    stanza=$'Types: deb\nURIs: '"$uri"$'\nSuites: '"$suite"$'\nComponents: contrib non-free'
  fi
  if [ -z "$stanza" ]; then
    echo "install-system: cannot find the system's Debian source to enable non-free" >&2
    return 1
  fi
  printf '%s\n' "$stanza" | $SUDO tee "$target" >/dev/null
  echo "install-system: enabled Debian contrib and non-free in $target"
}

enable_non_free
echo "install-system: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
