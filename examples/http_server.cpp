// warmpool HTTP server example: a small HTTP/1.1 inference server that embeds a
// warmpool::Pool. Each worker holds a Model whose enter() stands in for loading weights
// (--load-ms, 200 ms by default), so a request that finds no warm worker pays a cold
// start, and the requests after it find the worker warm.
//
// Endpoints (one request per connection: every answer says "Connection: close"):
//   POST /infer           body: a number or some text. Runs it on a warm worker and
//                         answers JSON, e.g. {"output":6,"worker":1,"worker_inputs":1,
//                         "cold_start":true,"waited_ms":201}
//   GET  /metrics         the pool's Stats in the Prometheus text format
//   POST /keep_warm?n=K   keeps K workers warm even without traffic (Modal's keep_warm)
//
// Build. The example needs standalone asio (Debian: apt-get install libasio-dev); the
// warmpool library itself needs nothing beyond the standard library:
//   cmake -S . -B build -DWARMPOOL_BUILD_EXAMPLES=ON
//   cmake --build build --target example_http_server
// or directly: g++ -std=c++20 -pthread -Iinclude examples/http_server.cpp -o http_server
//
// Run it and try it:
//   ./build/example_http_server --port 8080      # prints "listening on 127.0.0.1:8080"
//   curl -d 3 http://127.0.0.1:8080/infer                  # cold: waits for a boot
//   curl -d 'hello warm world' http://127.0.0.1:8080/infer # warm: answers at once
//   curl -X POST 'http://127.0.0.1:8080/keep_warm?n=2'
//   curl http://127.0.0.1:8080/metrics
// Ctrl-C (or kill -TERM) stops accepting connections, answers the requests in progress,
// shuts the pool down (the workers' exit() runs) and exits with status 0. A second
// Ctrl-C kills the process at once.
//
// Options: --host ADDR     address to listen on (default 127.0.0.1, loopback only)
//          --port N        port (default 8080; 0 picks a free one)
//          --load-ms N     how long Model::enter() takes (default 200)
//          --max-workers N most workers the pool runs at once (default 4)
//
// How it fits together: asio threads accept connections and parse requests, never
// running an input themselves. POST /infer hands the input to the pool with
// Pool::post(); the pool calls back on the worker's thread, and the callback posts the
// answer back to the connection's asio strand, which writes it.
#include <warmpool/warmpool.hpp>

#include <asio.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace {

using asio::ip::tcp;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view pool_name = "inference";  // the pool="..." label in /metrics
constexpr int io_threads = 2;                     // asio threads: they parse and write, never infer
constexpr std::size_t max_head_bytes = 8 * 1024;  // request line and header fields
constexpr std::size_t max_body_bytes = 64 * 1024;
constexpr std::size_t max_pending_inputs = 1000;  // beyond that, POST /infer answers 503
constexpr auto request_timeout = 10s;             // to send a whole request, once connected

// Prints one line at once (callable from any thread).
void log_line(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// ---------------------------------------------------------------------------
// Small text helpers
// ---------------------------------------------------------------------------

std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

// The whole of `text` as a number, or nothing (also for "", "12abc" or "-1" as unsigned).
template <class Number>
std::optional<Number> parse_number(std::string_view text) {
  Number value{};
  const char* end = text.data() + text.size();
  const std::from_chars_result parsed = std::from_chars(text.data(), end, value);
  if (text.empty() || parsed.ec != std::errc{} || parsed.ptr != end) return std::nullopt;
  return value;
}

// A double in JSON, shortest form that reads back the same (no locale involved).
std::string format_number(double value) {
  std::array<char, 32> digits{};
  const std::to_chars_result written =
      std::to_chars(digits.data(), digits.data() + digits.size(), value);
  return std::string(digits.data(), written.ptr);
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::size_t count_words(std::string_view text) {
  std::size_t words = 0;
  bool in_word = false;
  for (const char c : text) {
    const bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

// ---------------------------------------------------------------------------
// The model: one per worker, loaded once by enter(), then reused by many inputs
// ---------------------------------------------------------------------------

// What one input produced, and how it was served.
struct Prediction {
  double output = 0;
  int worker = 0;                       // which worker served it: 1, 2, ... in boot order
  std::uint64_t worker_inputs = 0;      // inputs that worker has served, this one included
  bool cold_start = false;              // the input waited for its worker to boot
  std::chrono::milliseconds waited{0};  // from the request's arrival to the input's start
};

std::atomic<int> workers_booted{0};

class Model {
 public:
  explicit Model(std::chrono::milliseconds load_time) : load_time_(load_time) {}

  // Runs once per worker, on the worker's own thread, before it takes any input.
  void enter() {
    std::this_thread::sleep_for(load_time_);  // stands in for reading a large weights file
    weight_ = 2.0;
    id_ = ++workers_booted;
    ready_at_ = SteadyClock::now();
    log_line("worker " + std::to_string(id_) + " warm after " + std::to_string(load_time_.count()) +
             " ms");
  }

  // Runs when the worker is evicted (idle for idle_timeout) or the pool shuts down.
  void exit() {
    log_line("worker " + std::to_string(id_) + " unloaded after " + std::to_string(inputs_) +
             " inputs");
  }

  // Runs one input on this worker's thread. `received` is when its request arrived: if
  // this worker only became warm after that, the input waited for its boot.
  Prediction infer(std::string_view input, SteadyClock::time_point received) {
    ++inputs_;
    const auto now = SteadyClock::now();
    return {.output = score(input),
            .worker = id_,
            .worker_inputs = inputs_,
            .cold_start = received < ready_at_,
            .waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - received)};
  }

 private:
  // A number is scaled by the weight; text is scored by its word count.
  double score(std::string_view input) const {
    const std::optional<double> number = parse_number<double>(input);
    if (number && std::isfinite(*number * weight_)) return *number * weight_;
    return static_cast<double>(count_words(input)) * weight_;
  }

  std::chrono::milliseconds load_time_;
  double weight_ = 0;
  int id_ = 0;
  std::uint64_t inputs_ = 0;  // a worker runs one input at a time (max_inputs = 1)
  SteadyClock::time_point ready_at_{};
};

std::string to_json(const Prediction& p) {
  return "{\"output\":" + format_number(p.output) + ",\"worker\":" + std::to_string(p.worker) +
         ",\"worker_inputs\":" + std::to_string(p.worker_inputs) +
         ",\"cold_start\":" + (p.cold_start ? "true" : "false") +
         ",\"waited_ms\":" + std::to_string(p.waited.count()) + "}";
}

// ---------------------------------------------------------------------------
// HTTP messages
// ---------------------------------------------------------------------------

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // "/keep_warm"
  std::string query;   // "n=2" (what follows '?')
  std::size_t content_length = 0;
  bool expect_continue = false;  // the client waits for "100 Continue" before the body
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type;
  std::string body;
  std::string allow;  // the Allow header of a 405 answer
};

Response text(int status, std::string body) {
  return {.status = status,
          .content_type = "text/plain; charset=utf-8",
          .body = std::move(body),
          .allow = {}};
}

Response json(std::string body) {
  return {.status = 200,
          .content_type = "application/json",
          .body = std::move(body) + "\n",
          .allow = {}};
}

Response method_not_allowed(std::string allowed) {
  Response response = text(405, "use " + allowed + " for this path\n");
  response.allow = std::move(allowed);
  return response;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

std::string serialize(const Response& response) {
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " ";
  out.append(reason_phrase(response.status)).append("\r\n");
  out += "Content-Type: " + response.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  if (!response.allow.empty()) out += "Allow: " + response.allow + "\r\n";
  out += "Connection: close\r\n\r\n";
  out += response.body;
  return out;
}

// Reads "METHOD /path?query HTTP/1.1". Returns the answer to send if it is malformed.
std::optional<Response> parse_request_line(std::string_view line, Request& request) {
  const Response malformed = text(400, "malformed request line\n");
  const std::size_t first_space = line.find(' ');
  if (first_space == std::string_view::npos) return malformed;
  const std::size_t second_space = line.find(' ', first_space + 1);
  if (second_space == std::string_view::npos ||
      line.find(' ', second_space + 1) != std::string_view::npos) {
    return malformed;
  }
  const std::string_view method = line.substr(0, first_space);
  const std::string_view target = line.substr(first_space + 1, second_space - first_space - 1);
  const std::string_view version = line.substr(second_space + 1);
  const auto is_upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  if (method.empty() || !std::all_of(method.begin(), method.end(), is_upper)) return malformed;
  if (target.empty() || target.front() != '/') return malformed;
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return malformed;

  const std::size_t question = target.find('?');
  request.method = method;
  request.path = target.substr(0, question);
  if (question != std::string_view::npos) request.query = target.substr(question + 1);
  return std::nullopt;
}

// Reads the header fields, "Name: value" one per line. Only a few matter here.
std::optional<Response> parse_fields(std::string_view fields, bool http_1_1, Request& request) {
  bool has_host = false;
  std::optional<std::size_t> content_length;
  while (!fields.empty()) {
    const std::size_t end = fields.find("\r\n");
    const std::string_view field = fields.substr(0, end);
    fields = end == std::string_view::npos ? std::string_view{} : fields.substr(end + 2);

    const std::size_t colon = field.find(':');
    const std::string_view name = field.substr(0, colon);
    // Also refuses obsolete folded lines, which start with whitespace.
    if (colon == std::string_view::npos || name.empty() ||
        name.find_first_of(" \t") != std::string_view::npos) {
      return text(400, "malformed header field\n");
    }
    const std::string_view value = trim(field.substr(colon + 1));
    if (equals_ignoring_case(name, "Host")) {
      has_host = true;
    } else if (equals_ignoring_case(name, "Content-Length")) {
      const std::optional<std::size_t> length = parse_number<std::size_t>(value);
      if (!length || (content_length && *content_length != *length)) {
        return text(400, "bad Content-Length\n");
      }
      content_length = length;
    } else if (equals_ignoring_case(name, "Transfer-Encoding")) {
      return text(501, "Transfer-Encoding is not supported: send a Content-Length\n");
    } else if (equals_ignoring_case(name, "Expect")) {
      request.expect_continue = equals_ignoring_case(value, "100-continue");
    }
  }
  if (http_1_1 && !has_host) return text(400, "an HTTP/1.1 request needs a Host header\n");
  request.content_length = content_length.value_or(0);
  if (request.content_length > max_body_bytes) {
    return text(413, "the body may have at most " + std::to_string(max_body_bytes) + " bytes\n");
  }
  return std::nullopt;
}

// Parses a request head: the request line and the header fields, without the blank line
// that ends them. Returns the error answer for a malformed or unsupported request.
std::optional<Response> parse_head(std::string_view head, Request& request) {
  const std::size_t line_end = head.find("\r\n");
  const std::string_view line = head.substr(0, line_end);
  if (std::optional<Response> error = parse_request_line(line, request)) return error;
  const bool http_1_1 = line.ends_with("HTTP/1.1");
  const std::string_view fields =
      line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);
  return parse_fields(fields, http_1_1, request);
}

// The value of `name` in a query such as "n=2&x=1"; empty when it is absent.
std::string_view query_parameter(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const std::size_t equals = pair.find('=');
    if (pair.substr(0, equals) == name) {
      return equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1);
    }
  }
  return {};
}

// ---------------------------------------------------------------------------
// The service: what each path does with the pool
// ---------------------------------------------------------------------------

// Delivers a request's answer; called exactly once, from any thread.
using Reply = std::function<void(Response)>;

class Service {
 public:
  explicit Service(warmpool::Pool<Model>& pool) : pool_(pool) {}

  void handle(const Request& request, Reply reply) {
    if (request.path == "/infer" && request.method == "POST") {
      infer(request.body, std::move(reply));  // answered later, from a worker's thread
    } else {
      reply(answer_now(request));
    }
  }

 private:
  Response answer_now(const Request& request) {
    if (request.path == "/metrics") {
      return request.method == "GET" ? metrics() : method_not_allowed("GET");
    }
    if (request.path == "/keep_warm") {
      return request.method == "POST" ? keep_warm(request.query) : method_not_allowed("POST");
    }
    if (request.path == "/infer") return method_not_allowed("POST");
    return text(404, "no such path: try POST /infer, GET /metrics or POST /keep_warm?n=K\n");
  }

  void infer(std::string_view body, Reply reply) {
    std::string input(trim(body));
    if (input.empty()) {
      reply(text(400, "send a number or some text in the body\n"));
      return;
    }
    const auto received = SteadyClock::now();
    // post() never blocks: the input waits in the pool's queue (or for a boot) while this
    // asio thread goes back to other connections. The callback runs exactly once.
    pool_.post(
        [input = std::move(input), received](Model& model) { return model.infer(input, received); },
        [reply = std::move(reply)](warmpool::Result<Prediction> result) {
          reply(to_response(result));
        });
  }

  static Response to_response(warmpool::Result<Prediction>& result) {
    try {
      return json(to_json(result.value()));  // value() rethrows the input's error
    } catch (const warmpool::queue_full&) {
      return text(503, "too many inputs waiting: try again later\n");
    } catch (const warmpool::pool_closed&) {
      return text(503, "the server is shutting down\n");
    } catch (const std::exception& e) {
      return text(500, std::string("inference failed: ") + e.what() + "\n");
    } catch (...) {
      return text(500, "inference failed\n");
    }
  }

  Response metrics() const {
    Response response = text(200, warmpool::to_prometheus(pool_.stats(), pool_name));
    response.content_type = "text/plain; version=0.0.4";
    return response;
  }

  Response keep_warm(std::string_view query) {
    const std::optional<std::size_t> n = parse_number<std::size_t>(query_parameter(query, "n"));
    if (!n) return text(400, "expected /keep_warm?n=K with K a whole number\n");
    try {
      pool_.keep_warm(*n);  // boots the missing workers in the background
    } catch (const std::invalid_argument& e) {
      return text(400, std::string(e.what()) + "\n");  // e.g. K above max_workers
    }
    return json("{\"keep_warm\":" + std::to_string(pool_.keep_warm()) + "}");
  }

  warmpool::Pool<Model>& pool_;
};

// ---------------------------------------------------------------------------
// One connection: read one request, answer it, close
// ---------------------------------------------------------------------------

// Every handler of a connection runs on its own strand (its socket's executor), so they
// never run concurrently and need no lock.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, Service& service)
      : socket_(std::move(socket)), deadline_(socket_.get_executor()), service_(service) {}

  void start() {
    // A client that does not send its whole request in time is disconnected. The timer
    // holds a weak pointer: it must not keep the connection alive.
    deadline_.expires_after(request_timeout);
    deadline_.async_wait([weak = weak_from_this()](std::error_code error) {
      const std::shared_ptr<Connection> self = weak.lock();
      if (self && !error && self->reading_) self->close();
    });
    read_head();
  }

 private:
  void read_head() {
    // Reads until the blank line that ends the head; it may read part of the body too.
    asio::async_read_until(socket_, asio::dynamic_buffer(buffer_, max_head_bytes), "\r\n\r\n",
                           [self = shared_from_this()](std::error_code error, std::size_t size) {
                             self->on_head(error, size);
                           });
  }

  void on_head(std::error_code error, std::size_t head_size) {
    if (error == asio::error::not_found) {
      write(text(
          431, "the request head may have at most " + std::to_string(max_head_bytes) + " bytes\n"));
      return;
    }
    if (error) return;  // the client went away, or the deadline closed the socket
    head_size_ = head_size;
    const std::string_view head = std::string_view(buffer_).substr(0, head_size - 4);
    if (std::optional<Response> malformed = parse_head(head, request_)) {
      write(std::move(*malformed));
      return;
    }
    read_body();
  }

  void read_body() {
    if (buffer_.size() - head_size_ >= request_.content_length) {
      dispatch();
      return;
    }
    if (!request_.expect_continue) {
      read_rest_of_body();
      return;
    }
    static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(socket_, asio::buffer(go_on.data(), go_on.size()),
                      [self = shared_from_this()](std::error_code error, std::size_t) {
                        if (!error) self->read_rest_of_body();
                      });
  }

  // Reads until the buffer holds the head and Content-Length bytes of body, however many
  // pieces they arrive in.
  void read_rest_of_body() {
    const std::size_t total = head_size_ + request_.content_length;
    asio::async_read(socket_, asio::dynamic_buffer(buffer_, total),
                     asio::transfer_exactly(total - buffer_.size()),
                     [self = shared_from_this()](std::error_code error, std::size_t) {
                       if (!error) self->dispatch();
                     });
  }

  void dispatch() {
    stop_reading();
    request_.body = buffer_.substr(head_size_, request_.content_length);
    // The work guard keeps io_context::run() going while the pool holds the request, so
    // a shutdown still writes the answers of inputs in progress.
    auto work = asio::make_work_guard(socket_.get_executor());
    service_.handle(request_, [self = shared_from_this(), work](Response response) {
      // Called on any thread (usually a worker's): hop back onto the connection's strand.
      asio::post(self->socket_.get_executor(), [self, response = std::move(response)]() mutable {
        self->write(std::move(response));
      });
    });
  }

  void write(Response response) {
    stop_reading();
    log_line((request_.method.empty() ? "-" : request_.method) + " " +
             (request_.path.empty() ? "-" : request_.path) + " -> " +
             std::to_string(response.status));
    out_ = serialize(response);
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this()](std::error_code, std::size_t) { self->close(); });
  }

  void stop_reading() {
    reading_ = false;
    deadline_.cancel();
  }

  void close() {
    std::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  tcp::socket socket_;
  asio::steady_timer deadline_;
  Service& service_;
  bool reading_ = true;  // until the request is complete (or refused)
  std::string buffer_;   // the request head, then its body
  std::size_t head_size_ = 0;
  Request request_;
  std::string out_;  // the answer being written
};

// ---------------------------------------------------------------------------
// The server: accepts connections until stop()
// ---------------------------------------------------------------------------

class Server {
 public:
  Server(asio::io_context& io, const tcp::endpoint& endpoint, Service& service)
      : io_(io), acceptor_(asio::make_strand(io), endpoint), service_(service) {
    accept();
  }

  tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

  // Stops accepting; the connections already open are still answered. Any thread.
  void stop() {
    asio::post(acceptor_.get_executor(), [this] {
      std::error_code ignored;
      acceptor_.close(ignored);
    });
  }

 private:
  void accept() {
    // Each connection gets its own strand, so different connections run in parallel.
    acceptor_.async_accept(asio::make_strand(io_),
                           [this](std::error_code error, tcp::socket socket) {
                             if (!acceptor_.is_open()) return;  // stop() was called
                             if (error) {
                               log_line("accept failed: " + error.message());
                             } else {
                               std::make_shared<Connection>(std::move(socket), service_)->start();
                             }
                             accept();
                           });
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  Service& service_;
};

std::string to_string(const tcp::endpoint& endpoint) {
  const std::string address = endpoint.address().to_string();
  const std::string host = endpoint.address().is_v6() ? "[" + address + "]" : address;
  return host + ":" + std::to_string(endpoint.port());
}

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

constexpr const char* usage =
    "usage: example_http_server [--host ADDR] [--port N] [--load-ms N] [--max-workers N]\n"
    "  --host ADDR      address to listen on (default 127.0.0.1)\n"
    "  --port N         port to listen on; 0 picks a free one (default 8080)\n"
    "  --load-ms N      how long each worker's enter() takes (default 200)\n"
    "  --max-workers N  most workers at once (default 4)\n";

struct Flags {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::chrono::milliseconds load_time{200};
  std::size_t max_workers = 4;
  bool help = false;
};

std::optional<Flags> bad_flag(std::string_view name, std::string_view problem) {
  std::fprintf(stderr, "error: %.*s %.*s\n", static_cast<int>(name.size()), name.data(),
               static_cast<int>(problem.size()), problem.data());
  return std::nullopt;
}

std::optional<Flags> parse_flags(int argc, char** argv) {
  Flags flags;
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); i += 2) {
    const std::string_view name = args[i];
    if (name == "--help" || name == "-h") {
      flags.help = true;
      return flags;
    }
    if (i + 1 == args.size()) return bad_flag(name, "needs a value");
    const std::string_view value = args[i + 1];
    if (name == "--host") {
      std::error_code error;
      asio::ip::make_address(std::string(value), error);
      if (error) return bad_flag(name, "must be an IP address, such as 127.0.0.1 or ::1");
      flags.host = value;
    } else if (name == "--port") {
      const auto port = parse_number<std::uint16_t>(value);
      if (!port) return bad_flag(name, "must be a port number (0 to 65535)");
      flags.port = *port;
    } else if (name == "--load-ms") {
      const auto ms = parse_number<std::uint32_t>(value);
      if (!ms) return bad_flag(name, "must be a whole number of milliseconds");
      flags.load_time = std::chrono::milliseconds(*ms);
    } else if (name == "--max-workers") {
      const auto n = parse_number<std::size_t>(value);
      if (!n || *n == 0) return bad_flag(name, "must be a whole number >= 1");
      flags.max_workers = *n;
    } else {
      return bad_flag(name, "is not an option");
    }
  }
  return flags;
}

// ---------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------

int serve(const Flags& flags) {
  // Declared before the pool, so it outlives it: inputs the pool still finishes while it
  // shuts down hold connections whose sockets belong to this io_context.
  asio::io_context io;

  warmpool::Options options;
  options.autoscaler.max_workers = flags.max_workers;
  options.max_pending = max_pending_inputs;
  warmpool::Pool<Model> pool(options,
                             [load_time = flags.load_time] {  // runs on each new worker's thread
                               return std::make_unique<Model>(load_time);
                             });

  Service service(pool);
  Server server(io, tcp::endpoint(asio::ip::make_address(flags.host), flags.port), service);
  log_line("listening on " + to_string(server.local_endpoint()));

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&server, &signals](std::error_code error, int signal) {
    if (error) return;
    log_line(std::string(signal == SIGINT ? "SIGINT" : "SIGTERM") +
             ": no new connections; finishing the requests in progress");
    server.stop();
    std::error_code ignored;
    signals.clear(ignored);  // restores the default action: a second signal kills at once
  });

  // run() returns once nothing is left to do: the acceptor is closed and every open
  // connection has been answered (or has timed out).
  std::vector<std::thread> threads;
  for (int i = 0; i < io_threads; ++i) threads.emplace_back([&io] { io.run(); });
  for (std::thread& thread : threads) thread.join();

  log_line("shutting the pool down");
  pool.shutdown();  // waits until every worker has run exit()
  log_line("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Flags> flags = parse_flags(argc, argv);
  if (!flags) {
    std::fputs(usage, stderr);
    return 2;
  }
  if (flags->help) {
    std::fputs(usage, stdout);
    return 0;
  }
  try {
    return serve(*flags);
  } catch (const std::exception& e) {  // e.g. a bad --host, or the port is taken
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
