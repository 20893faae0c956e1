#!/usr/bin/env bash
# Build and test warmpool in several configurations.
#
# Usage: scripts/test.sh [config ...]
#
# Configurations (default: all, in this order):
#   gcc    g++     Debug           -Werror  tests + examples (ctest, then run every example)
#   clang  clang++ Release         -Werror  tests + examples (ctest, then run every example)
#   asan   clang++ RelWithDebInfo  -fsanitize=address,undefined, tests only
#   tsan   clang++ RelWithDebInfo  -fsanitize=thread, tests only
#
# Checks without a build (run first):
#   docs    doxygen docs/Doxyfile: the API reference, undocumented names are errors
#   format  scripts/check-format.sh: clang-format --dry-run --Werror
#   tidy    scripts/tidy.sh: clang-tidy on every public header, warnings are errors
#
# gcc and clang also build and run the packaging tests (tests/consumers/: installed
# find_package, add_subdirectory, FetchContent, pkg-config, vcpkg port, Conan recipe).
#
# Build directories: build/<config>. Every selected configuration is run even if
# an earlier one fails; the exit status is non-zero if any failed.
#
# Environment:
#   WARMPOOL_JOBS        parallel build/test jobs (default: nproc)
#   WARMPOOL_SKIP_DEPS=1 do not run scripts/install-deps.sh
#   TSAN_OPTIONS, ASAN_OPTIONS, UBSAN_OPTIONS  override the defaults
#     (halt_on_error=1 second_deadlock_stack=1 / detect_leaks=1:abort_on_error=1 /
#      print_stacktrace=1:halt_on_error=1)
#
# Sanitizers and ASLR: clang-14's TSan (and sometimes ASan) can abort at start-up
# with "FATAL: ThreadSanitizer: unexpected memory mapping" when vm.mmap_rnd_bits is
# high. Sanitized test binaries are therefore run under `setarch <arch> -R`
# (ASLR off for that process tree; no root needed). CMake does this via the
# WARMPOOL_SANITIZE_NO_ASLR option, which sets the test launcher used both by
# doctest's build-time test discovery and by ctest. Before building, a small
# threaded probe program is compiled and run to check the sanitizer works here.
set -euo pipefail

readonly ALL_CONFIGS=(format tidy docs gcc clang asan tsan)
readonly CHECK_CONFIGS=(docs format tidy)
readonly EXAMPLE_TIMEOUT=120

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
JOBS="${WARMPOOL_JOBS:-$(nproc)}"
readonly JOBS

export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1 second_deadlock_stack=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

banner() {
  local line="========================================================================"
  printf '\n%s\n== %s\n%s\n' "${line}" "$*" "${line}"
}

step() { printf -- '--> %s\n' "$*"; }

# Compile and run a small threaded program with the given sanitizer, both
# normally and under `setarch -R`, and report what works on this machine.
sanitizer_preflight() {
  local cxx="$1" sanitize="$2" dir="$3"
  local src="${dir}/probe.cpp" exe="${dir}/probe" out
  mkdir -p "${dir}"
  cat >"${src}" <<'CPP'
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
int main() {
  std::atomic<int> count{0};
  std::mutex m;
  std::condition_variable cv;
  bool go = false;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      std::unique_lock<std::mutex> lock(m);
      cv.wait(lock, [&] { return go; });
      lock.unlock();
      for (int j = 0; j < 1000; ++j) count.fetch_add(1);
    });
  { std::lock_guard<std::mutex> lock(m); go = true; }
  cv.notify_all();
  for (auto& t : threads) t.join();
  return count.load() == 4000 ? 0 : 1;
}
CPP
  step "sanitizer preflight: ${cxx} -fsanitize=${sanitize}"
  if ! out="$("${cxx}" -std=c++20 -pthread -g -fno-omit-frame-pointer \
                "-fsanitize=${sanitize}" "${src}" -o "${exe}" 2>&1)"; then
    printf '%s\n' "${out}" >&2
    echo "error: cannot build a -fsanitize=${sanitize} program with ${cxx}" \
         "(missing sanitizer runtime? on Debian 12: apt-get install libclang-rt-14-dev)" >&2
    return 1
  fi

  local native=ok no_aslr=ok native_out="" no_aslr_out=""
  native_out="$("${exe}" 2>&1)" || native=FAILED
  if command -v setarch >/dev/null 2>&1; then
    no_aslr_out="$(setarch "$(uname -m)" -R "${exe}" 2>&1)" || no_aslr=FAILED
  else
    no_aslr="unavailable (setarch not found)"
  fi
  step "  native run: ${native}; under 'setarch $(uname -m) -R': ${no_aslr}"

  if [[ "${no_aslr}" == ok ]]; then
    [[ "${native}" == ok ]] ||
      step "  ASLR workaround needed on this machine; tests will run under setarch -R"
    return 0
  fi
  if [[ "${native}" == ok ]]; then
    step "  warning: setarch -R unusable; tests run with ASLR on (may be flaky)"
    return 0
  fi
  printf '%s\n' "${native_out}" "${no_aslr_out}" >&2
  echo "error: -fsanitize=${sanitize} programs cannot run on this machine" \
       "(if the error is 'unexpected memory mapping', try: sysctl vm.mmap_rnd_bits=28," \
       "or allow personality(ADDR_NO_RANDOMIZE) so 'setarch -R' works)" >&2
  return 1
}

# Runs every example; example_http_server is a server that never exits by itself, so
# scripts/check-http-server.sh starts it, sends it real requests and stops it.
run_examples() {
  local build_dir="$1" exe failed=0 found=0
  local -a to_run
  for exe in "${build_dir}"/example_*; do
    [[ -f "${exe}" && -x "${exe}" ]] || continue
    found=1
    if [[ "$(basename "${exe}")" == example_http_server ]]; then
      step "checking $(basename "${exe}") with scripts/check-http-server.sh"
      to_run=(bash "${ROOT}/scripts/check-http-server.sh" "${exe}")
    else
      step "running $(basename "${exe}")"
      to_run=("${exe}")
    fi
    if ! timeout "${EXAMPLE_TIMEOUT}" "${to_run[@]}" </dev/null; then
      echo "error: $(basename "${exe}") failed (exit status non-zero or timed out)" >&2
      failed=1
    fi
  done
  [[ "${found}" -eq 1 ]] || step "no example binaries found"
  return "${failed}"
}

# Runs one check that needs no CMake build.
run_check() {
  local name="$1"
  case "${name}" in
    docs)
      banner "docs: doxygen docs/Doxyfile (warnings are errors), HTML in build/docs/html"
      command -v doxygen >/dev/null 2>&1 ||
        { echo "error: doxygen not found (apt-get install doxygen)" >&2; return 1; }
      mkdir -p build
      doxygen docs/Doxyfile
      ;;
    format)
      banner "format: clang-format --dry-run --Werror"
      bash scripts/check-format.sh
      ;;
    tidy)
      banner "tidy: clang-tidy on every public header"
      bash scripts/tidy.sh
      ;;
  esac
}

# Runs one configuration; intended to be called in a subshell with `set -e`.
run_config() {
  local name="$1"
  case "${name}" in
    docs|format|tidy) run_check "${name}"; return ;;
  esac
  local cxx build_type sanitize="" werror=ON examples=ON
  case "${name}" in
    gcc)   cxx=g++;     build_type=Debug ;;
    clang) cxx=clang++; build_type=Release ;;
    asan)  cxx=clang++; build_type=RelWithDebInfo; sanitize=address,undefined; werror=OFF; examples=OFF ;;
    tsan)  cxx=clang++; build_type=RelWithDebInfo; sanitize=thread;            werror=OFF; examples=OFF ;;
    *) echo "error: unknown configuration '${name}'" >&2; return 2 ;;
  esac
  local build_dir="build/${name}"

  banner "${name}: ${cxx} ${build_type}${sanitize:+, -fsanitize=${sanitize}}, WERROR=${werror}"

  if [[ -n "${sanitize}" ]]; then
    sanitizer_preflight "${cxx}" "${sanitize}" "${build_dir}/sanitizer-probe"
  fi

  step "configure ${build_dir}"
  cmake -S . -B "${build_dir}" \
    -DCMAKE_CXX_COMPILER="${cxx}" \
    -DCMAKE_BUILD_TYPE="${build_type}" \
    -DWARMPOOL_WERROR="${werror}" \
    -DWARMPOOL_BUILD_TESTS=ON \
    -DWARMPOOL_BUILD_EXAMPLES="${examples}" \
    -DWARMPOOL_BUILD_BENCHMARKS=OFF \
    -DWARMPOOL_SANITIZE="${sanitize}" \
    -DWARMPOOL_SANITIZE_NO_ASLR=ON

  step "build ${build_dir}"
  cmake --build "${build_dir}" -j "${JOBS}"

  step "ctest ${build_dir}"
  ctest --test-dir "${build_dir}" --output-on-failure --no-tests=error -j "${JOBS}"

  if [[ "${examples}" == ON ]]; then
    run_examples "${build_dir}"
  fi
}

main() {
  local -a configs=()
  local arg
  for arg in "$@"; do
    case "${arg}" in
      -h|--help) usage; return 0 ;;
      all) configs+=("${ALL_CONFIGS[@]}") ;;
      gcc|clang|asan|tsan|docs|format|tidy) configs+=("${arg}") ;;
      *) echo "error: unknown configuration '${arg}'" \
              "(expected: ${ALL_CONFIGS[*]} ${CHECK_CONFIGS[*]} or all)" >&2
         return 2 ;;
    esac
  done
  [[ ${#configs[@]} -gt 0 ]] || configs=("${ALL_CONFIGS[@]}")

  cd "${ROOT}"
  bash scripts/install-deps.sh

  local name status start
  local -a results=() failed=()
  for name in "${configs[@]}"; do
    start="${SECONDS}"
    set +e
    (set -e; run_config "${name}")
    status=$?
    set -e
    if [[ "${status}" -eq 0 ]]; then
      results+=("${name}=PASS($((SECONDS - start))s)")
    else
      results+=("${name}=FAIL($((SECONDS - start))s)")
      failed+=("${name}")
    fi
  done

  banner "summary"
  if [[ ${#failed[@]} -eq 0 ]]; then
    echo "test.sh: ALL PASSED: ${results[*]}"
    return 0
  fi
  echo "test.sh: FAILED (${failed[*]}): ${results[*]}"
  return 1
}

main "$@"
