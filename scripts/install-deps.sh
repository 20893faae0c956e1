#!/usr/bin/env bash
# Install the packages warmpool needs to build and test on Debian 12 (bookworm).
#
# Usage: scripts/install-deps.sh [extra-package ...]
#
# Idempotent: does nothing (and prints nothing) when every package is already
# installed. Uses sudo when not run as root. Set WARMPOOL_SKIP_DEPS=1 to skip.
set -euo pipefail

readonly BASE_PACKAGES=(
  build-essential
  cmake
  clang
  libclang-rt-14-dev   # sanitizer runtimes for clang-14 (ASan/UBSan/TSan)
  doctest-dev
  git
  pkgconf              # pkg-config, for the consumer_pkgconfig test
  doxygen              # API reference: scripts/test.sh docs
  clang-format         # scripts/check-format.sh
  clang-tidy           # scripts/tidy.sh
  libasio-dev          # standalone asio, for examples/http_server.cpp only
  curl                 # scripts/check-http-server.sh
)

log() { printf 'install-deps: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

is_installed() {
  local pkg="$1" info
  info="$(dpkg -s "${pkg}" 2>/dev/null)" || return 1
  grep -qx 'Status: install ok installed' <<<"${info}"
}

main() {
  if [[ "${WARMPOOL_SKIP_DEPS:-0}" == 1 ]]; then
    return 0
  fi
  if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    die "dpkg/apt-get not found: this script supports Debian/Ubuntu only (set WARMPOOL_SKIP_DEPS=1 to skip)"
  fi

  local pkg
  local -a missing=()
  for pkg in "${BASE_PACKAGES[@]}" "$@"; do
    if ! is_installed "${pkg}"; then
      missing+=("${pkg}")
    fi
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    return 0
  fi

  # Command prefix needed to run as root.
  local -a as_root=()
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 ||
      die "missing packages (${missing[*]}) but not running as root and sudo is not installed; re-run as root"
    as_root=(sudo)
    # Never block on a password prompt nobody can answer (CI, no tty).
    [[ -t 0 ]] || as_root+=(-n)
  fi

  log "installing missing packages: ${missing[*]}"
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"

  for pkg in "${missing[@]}"; do
    is_installed "${pkg}" || die "package ${pkg} is still not installed"
  done
  log "done"
}

main "$@"
