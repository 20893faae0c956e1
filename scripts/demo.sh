#!/usr/bin/env bash
# Build and run the quickstart example (Release).
#
# Usage: scripts/demo.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh

cmake -S . -B build/demo \
  -DCMAKE_BUILD_TYPE=Release \
  -DWARMPOOL_BUILD_TESTS=OFF \
  -DWARMPOOL_BUILD_EXAMPLES=ON
cmake --build build/demo --target example_quickstart -j 2
./build/demo/example_quickstart
