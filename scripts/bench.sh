#!/usr/bin/env bash
# Builds the benchmarks in Release, runs them all and prints one table with ratios against
# the best peer, then the targets of issue 6 that these benchmarks check.
#
# Usage: scripts/bench.sh [--quick]
#   --quick  100,000 inputs instead of 1,000,000 and --benchmark_min_time=0.05
# Output: build/bench/results/*.json (Google Benchmark JSON), the table on stdout.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly BUILD="${ROOT}/build/bench"
readonly RESULTS="${BUILD}/results"

main() {
  local -a extra=()
  export WARMPOOL_BENCH_QUICK=0
  if [[ "${1:-}" == --quick ]]; then
    extra+=(--benchmark_min_time=0.05)
    export WARMPOOL_BENCH_QUICK=1
  elif [[ $# -gt 0 ]]; then
    echo "usage: scripts/bench.sh [--quick]" >&2
    return 2
  fi

  # Google Benchmark and the peers compared against (asio, rvaser's thread_pool).
  bash "${ROOT}/scripts/install-deps.sh" libbenchmark-dev libthread-pool-dev libasio-dev

  cmake -S "${ROOT}" -B "${BUILD}" -DCMAKE_BUILD_TYPE=Release \
    -DWARMPOOL_BUILD_BENCHMARKS=ON -DWARMPOOL_BUILD_TESTS=OFF -DWARMPOOL_BUILD_EXAMPLES=OFF \
    -DWARMPOOL_BUILD_TOOLS=OFF \
    >/dev/null
  cmake --build "${BUILD}" -j "$(nproc)"

  rm -rf "${RESULTS}"
  mkdir -p "${RESULTS}"
  local bin name
  for bin in "${BUILD}"/bench_*; do
    [[ -x "${bin}" ]] || continue
    name="$(basename "${bin}")"
    echo "== ${name}" >&2
    # Repetitions of all the benchmarks of a binary interleaved in random order: a slow
    # spell of this shared machine then falls on every pool alike, not on one of them.
    "${bin}" --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
      --benchmark_report_aggregates_only=true \
      --benchmark_out="${RESULTS}/${name}.json" --benchmark_out_format=json \
      "${extra[@]}" >&2
  done

  # The same throughput run with every thread on one core: no cache line moves between
  # cores, so this shows the CPU time each pool spends per input (steadier than above).
  echo "== bench_throughput on one core" >&2
  taskset -c 0 "${BUILD}/bench_throughput" --benchmark_filter='producers:1/' \
    --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
    --benchmark_report_aggregates_only=true \
    --benchmark_out="${RESULTS}/one_core.json" --benchmark_out_format=json \
    "${extra[@]}" >&2

  python3 "${ROOT}/benchmarks/report.py" "${RESULTS}"/*.json
}

main "$@"
