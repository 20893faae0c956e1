#!/usr/bin/env bash
# End-to-end check of examples/http_server.cpp with real HTTP requests.
#
# Usage: scripts/check-http-server.sh path/to/example_http_server
#
# Starts the server on 127.0.0.1 with --port 0 (a free port), reads the port from its
# "listening on 127.0.0.1:PORT" line, then checks with curl (and a few raw requests
# through bash's /dev/tcp):
#   POST /infer          200 and the expected JSON: a cold start, then warm reuse,
#                        concurrent requests, a body sent in pieces, Expect: 100-continue
#   GET /metrics         Prometheus text: # TYPE lines, input counters with the right N
#   POST /keep_warm?n=2  200, then warmpool_min_warm{pool="inference"} 2 in /metrics
#   errors               400 (bad keep_warm, empty body, malformed request), 404, 405
# and finally sends SIGTERM and checks that the server exits with status 0 in time.
# The server is killed whatever happens. Needs bash, curl and Linux's /proc.
set -euo pipefail

readonly POOL=inference          # the pool label the example uses
readonly LOAD_MS=200             # the example's --load-ms
readonly START_TIMEOUT=30        # seconds for the server to print its port
readonly REQUEST_TIMEOUT=30      # seconds per request
readonly STOP_TIMEOUT=30         # seconds for the server to exit after SIGTERM

server_pid=""
workdir=""
base_url=""
port=""
STATUS=""
BODY=""

cleanup() {
  if [[ -n "${server_pid}" ]] && kill -0 "${server_pid}" 2>/dev/null; then
    kill -KILL "${server_pid}" 2>/dev/null || true
    wait "${server_pid}" 2>/dev/null || true
  fi
  if [[ -n "${workdir}" ]]; then
    rm -rf "${workdir}"
  fi
}

fail() {
  echo "check-http-server: FAIL: $*" >&2
  if [[ -s "${workdir}/server.log" ]]; then
    echo "---- server output ----" >&2
    cat "${workdir}/server.log" >&2
    echo "-----------------------" >&2
  fi
  exit 1
}

pass() { echo "check-http-server: ok: $*"; }

# True once the process has exited (gone, or a zombie waiting to be reaped).
has_exited() {
  local pid="$1" stat
  stat="$(cat "/proc/${pid}/stat" 2>/dev/null)" || return 0
  stat="${stat##*) }"  # the fields after "(command name) "
  [[ "${stat%% *}" == Z ]]
}

start_server() {
  local exe="$1" i
  : >"${workdir}/server.log"
  "${exe}" --host 127.0.0.1 --port 0 --load-ms "${LOAD_MS}" >"${workdir}/server.log" 2>&1 &
  server_pid=$!
  for ((i = 0; i < START_TIMEOUT * 10; i++)); do
    port="$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "${workdir}/server.log")"
    [[ -z "${port}" ]] || break
    has_exited "${server_pid}" && fail "the server exited before printing its port"
    sleep 0.1
  done
  [[ -n "${port}" ]] || fail "no 'listening on 127.0.0.1:PORT' line within ${START_TIMEOUT} s"
  base_url="http://127.0.0.1:${port}"
  pass "server started (pid ${server_pid}, port ${port})"
}

# request METHOD PATH [BODY]: sends it with curl; sets STATUS and BODY.
request() {
  local method="$1" path="$2"
  local -a args=(--silent --show-error --max-time "${REQUEST_TIMEOUT}" -X "${method}"
                 -o "${workdir}/body" -w '%{http_code}')
  if [[ $# -ge 3 ]]; then
    args+=(--data-binary "$3")
  fi
  STATUS="$(curl "${args[@]}" "${base_url}${path}")" ||
    fail "curl ${method} ${path} failed (exit status $?)"
  BODY="$(cat "${workdir}/body")"
}

# expect STATUS METHOD PATH [BODY]: sends the request and checks the status code.
expect() {
  local want="$1"
  shift
  request "$@"
  [[ "${STATUS}" == "${want}" ]] ||
    fail "$1 $2: expected HTTP ${want}, got ${STATUS}; body: ${BODY}"
}

# expect_in TEXT WHAT: checks that the last answer's body contains TEXT.
expect_in() {
  [[ "${BODY}" == *"$1"* ]] || fail "$2: expected '$1' in the answer: ${BODY}"
}

# raw_request PART1 [PART2]: sends PART1, pauses, sends PART2 over one connection
# (printf %b escapes) and prints the whole answer with CRs removed.
raw_request() {
  local first="$1" second="${2-}" line
  exec 3<>"/dev/tcp/127.0.0.1/${port}" || fail "cannot connect to port ${port}"
  printf '%b' "${first}" >&3
  if [[ -n "${second}" ]]; then
    sleep 0.3
    printf '%b' "${second}" >&3
  fi
  while IFS= read -r -t "${REQUEST_TIMEOUT}" line <&3 || [[ -n "${line}" ]]; do
    printf '%s\n' "${line%$'\r'}"
  done
  exec 3<&-
}

check_infer() {
  expect 200 POST /infer 3
  expect_in '"output":6,' "first POST /infer"
  expect_in '"worker_inputs":1,' "first POST /infer"
  expect_in '"cold_start":true' "first POST /infer (no worker was warm)"

  expect 200 POST /infer 'hello warm world'
  expect_in '"output":6,' "POST /infer with three words"
  expect_in '"worker_inputs":2,' "second POST /infer"
  expect_in '"cold_start":false' "second POST /infer (the worker was warm)"

  expect 200 POST /infer 2.5
  expect_in '"output":5,' "POST /infer 2.5"
  pass "POST /infer: cold start, then warm reuse"

  local i pids=()
  for i in 1 2 3 4; do
    curl --silent --show-error --max-time "${REQUEST_TIMEOUT}" --fail-with-body \
         --data-binary "${i}" -o "${workdir}/concurrent.${i}" "${base_url}/infer" &
    pids+=($!)
  done
  for i in 1 2 3 4; do
    wait "${pids[i - 1]}" || fail "concurrent POST /infer ${i} failed"
    BODY="$(cat "${workdir}/concurrent.${i}")"
    expect_in "\"output\":$((2 * i))," "concurrent POST /infer ${i}"
  done
  pass "POST /infer: 4 concurrent requests"

  local answer
  answer="$(raw_request 'POST /infer HTTP/1.1\r\nHo' 'st: x\r\nContent-Length: 2\r\n\r\n21')"
  [[ "${answer}" == "HTTP/1.1 200 OK"*'"output":42,'* ]] ||
    fail "POST /infer with its head in two pieces: ${answer}"
  answer="$(raw_request 'POST /infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n' '4')"
  [[ "${answer}" == "HTTP/1.1 200 OK"*'"output":8,'* ]] ||
    fail "POST /infer with its body sent after the head: ${answer}"
  pass "POST /infer: requests arriving in pieces"

  check_expect_continue

  expect 400 POST /infer ''
  pass "POST /infer: an empty body is refused with 400"
}

# Sends the head with "Expect: 100-continue", waits for "100 Continue", then the body.
check_expect_continue() {
  local line answer=""
  exec 3<>"/dev/tcp/127.0.0.1/${port}" || fail "cannot connect to port ${port}"
  printf 'POST /infer HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n' >&3
  IFS= read -r -t "${REQUEST_TIMEOUT}" line <&3 || fail "Expect: 100-continue: no answer"
  [[ "${line}" == $'HTTP/1.1 100 Continue\r' ]] ||
    fail "Expect: 100-continue: expected 'HTTP/1.1 100 Continue', got: ${line}"
  IFS= read -r -t "${REQUEST_TIMEOUT}" line <&3 || fail "Expect: 100-continue: truncated"
  printf '5' >&3
  while IFS= read -r -t "${REQUEST_TIMEOUT}" line <&3 || [[ -n "${line}" ]]; do
    answer+="${line%$'\r'}"$'\n'
  done
  exec 3<&-
  [[ "${answer}" == "HTTP/1.1 200 OK"*'"output":10,'* ]] ||
    fail "Expect: 100-continue: unexpected final answer: ${answer}"
  pass "POST /infer: Expect: 100-continue"
}

# expect_metric LINE: checks that the last /metrics answer has exactly this line.
expect_metric() {
  grep -qxF -- "$1" <<<"${BODY}" || fail "GET /metrics: no line '$1' in:"$'\n'"${BODY}"
}

check_metrics() {
  local inputs=10  # 3 + 4 concurrent + 2 in pieces + 1 with Expect; the empty body never ran
  local content_type
  content_type="$(curl --silent --show-error --max-time "${REQUEST_TIMEOUT}" --fail-with-body \
                  -o "${workdir}/body" -w '%{content_type}' "${base_url}/metrics")" ||
    fail "GET /metrics failed"
  BODY="$(cat "${workdir}/body")"
  [[ "${content_type}" == "text/plain; version=0.0.4" ]] ||
    fail "GET /metrics: Content-Type is '${content_type}'"
  expect_metric "# TYPE warmpool_inputs_completed_total counter"
  expect_metric "warmpool_inputs_completed_total{pool=\"${POOL}\"} ${inputs}"
  expect_metric "# TYPE warmpool_inputs_submitted_total counter"
  expect_metric "warmpool_inputs_submitted_total{pool=\"${POOL}\"} ${inputs}"
  expect_metric "# TYPE warmpool_workers gauge"
  expect_metric "warmpool_inputs_running{pool=\"${POOL}\"} 0"
  grep -qE "^warmpool_boots_total\{pool=\"${POOL}\"\} [1-9][0-9]*$" <<<"${BODY}" ||
    fail "GET /metrics: no warmpool_boots_total >= 1 in:"$'\n'"${BODY}"
  pass "GET /metrics: ${inputs} inputs completed"
}

check_keep_warm() {
  expect 200 POST '/keep_warm?n=2'
  expect_in '"keep_warm":2' "POST /keep_warm?n=2"
  expect 200 GET /metrics
  expect_metric "# TYPE warmpool_min_warm gauge"
  expect_metric "warmpool_min_warm{pool=\"${POOL}\"} 2"
  pass "POST /keep_warm?n=2, then warmpool_min_warm is 2"

  expect 400 POST '/keep_warm?n=abc'
  expect 400 POST /keep_warm
  expect 400 POST '/keep_warm?n=1000'
  expect_in "max_workers" "POST /keep_warm?n=1000"
  expect 200 GET /metrics
  expect_metric "warmpool_min_warm{pool=\"${POOL}\"} 2"
  pass "POST /keep_warm: bad values get 400 and change nothing"
}

check_errors() {
  expect 404 GET /nowhere
  expect 404 POST /infer/extra 1
  expect 405 GET /infer
  expect 405 POST /metrics
  expect 405 GET /keep_warm
  pass "404 for unknown paths, 405 for wrong methods"

  local answer
  answer="$(raw_request 'this is not http\r\n\r\n')"
  [[ "${answer}" == "HTTP/1.1 400 "* ]] || fail "malformed request line: ${answer}"
  answer="$(raw_request 'GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n')"
  [[ "${answer}" == "HTTP/1.1 400 "* ]] || fail "malformed header: ${answer}"
  answer="$(raw_request 'GET /metrics HTTP/1.1\r\n\r\n')"
  [[ "${answer}" == "HTTP/1.1 400 "* ]] || fail "HTTP/1.1 without Host: ${answer}"
  pass "400 for malformed requests"
}

stop_server() {
  local i status=0
  kill -TERM "${server_pid}"
  for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
    has_exited "${server_pid}" && break
    sleep 0.1
  done
  has_exited "${server_pid}" || fail "the server did not exit within ${STOP_TIMEOUT} s of SIGTERM"
  wait "${server_pid}" || status=$?
  server_pid=""
  [[ "${status}" -eq 0 ]] || fail "the server exited with status ${status} after SIGTERM"
  grep -qx "stopped" "${workdir}/server.log" || fail "the server did not log 'stopped'"
  pass "SIGTERM: the server exited with status 0"
}

main() {
  if [[ $# -ne 1 ]]; then
    echo "usage: $0 path/to/example_http_server" >&2
    return 2
  fi
  local exe="$1"
  [[ -x "${exe}" ]] || { echo "check-http-server: error: '${exe}' is not an executable" >&2; return 2; }
  command -v curl >/dev/null 2>&1 ||
    { echo "check-http-server: error: curl not found (apt-get install curl)" >&2; return 2; }

  workdir="$(mktemp -d)"
  trap cleanup EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT

  start_server "${exe}"
  check_infer
  check_metrics
  check_keep_warm
  check_errors
  stop_server
  echo "check-http-server: PASSED"
}

main "$@"
