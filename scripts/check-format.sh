#!/usr/bin/env bash
# Check that the C++ sources follow .clang-format; changes nothing.
#
# Usage: scripts/check-format.sh [--fix]
#   --fix  reformat the files in place instead of checking them
#
# Files: include/, tests/, examples/, benchmarks/, test_package/, tools/ (*.hpp, *.cpp).
# Environment: CLANG_FORMAT  the clang-format binary (default: clang-format).
# clang-format's output differs between major versions; CI uses Debian 12's (14).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly CLANG_FORMAT="${CLANG_FORMAT:-clang-format}"

main() {
  cd "${ROOT}"
  command -v "${CLANG_FORMAT}" >/dev/null 2>&1 ||
    { echo "error: ${CLANG_FORMAT} not found (Debian: apt-get install clang-format)" >&2; return 2; }

  local -a files=()
  mapfile -t files < <(find include tests examples benchmarks test_package tools \
                         -type f \( -name '*.hpp' -o -name '*.cpp' \) 2>/dev/null | sort)
  [[ ${#files[@]} -gt 0 ]] || { echo "error: no C++ files found" >&2; return 2; }

  if [[ "${1:-}" == --fix ]]; then
    "${CLANG_FORMAT}" -i "${files[@]}"
    echo "check-format: reformatted ${#files[@]} files"
    return 0
  fi

  if "${CLANG_FORMAT}" --dry-run --Werror "${files[@]}"; then
    echo "check-format: ${#files[@]} files formatted correctly"
  else
    echo "check-format: FAILED: run 'scripts/check-format.sh --fix' (${CLANG_FORMAT}" \
         "$("${CLANG_FORMAT}" --version | grep -o '[0-9][0-9.]*' | head -1))" >&2
    return 1
  fi
}

main "$@"
