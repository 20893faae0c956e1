// warmpool load_concurrently: a worker whose enter hook loads two independent "models"
// (an encoder and a decoder). Loaded one after the other, a boot takes the sum of both
// load times; with warmpool::load_concurrently it takes about the time of the slower one.
#include <warmpool/load_concurrently.hpp>
#include <warmpool/warmpool.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr auto encoder_load_time = 300ms;  // stand-ins for reading large files
constexpr auto decoder_load_time = 200ms;
constexpr std::size_t weights_per_model = 4096;

struct Model {
  std::vector<float> weights;
};

/// Writes a small weights file, standing in for a model on disk.
void write_model(const fs::path& file, float value) {
  const std::vector<float> weights(weights_per_model, value);
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(weights.data()),
            static_cast<std::streamsize>(weights.size() * sizeof(float)));
}

/// Reads a weights file, then spends `load_time` as a large file would, in steps: a stop
/// request (another loader failed) makes it give up early.
Model load_model(const fs::path& file, Clock::duration load_time, const std::stop_token& stop) {
  Model model{std::vector<float>(weights_per_model)};
  std::ifstream in(file, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(model.weights.data()),
               static_cast<std::streamsize>(model.weights.size() * sizeof(float)))) {
    throw std::runtime_error("cannot read " + file.string());
  }
  for (auto spent = Clock::duration::zero(); spent < load_time; spent += 10ms) {
    if (stop.stop_requested()) throw std::runtime_error("gave up: another model failed");
    std::this_thread::sleep_for(10ms);
  }
  return model;
}

enum class Loading { sequential, concurrent };

struct Translator {
  Translator(fs::path dir, Loading how) : model_dir(std::move(dir)), loading(how) {}

  // Runs once per worker, on the worker's own thread, before it takes any input.
  void enter() {
    const auto start = Clock::now();
    const fs::path encoder_file = model_dir / "encoder.bin";
    const fs::path decoder_file = model_dir / "decoder.bin";
    if (loading == Loading::sequential) {
      encoder = load_model(encoder_file, encoder_load_time, {});
      decoder = load_model(decoder_file, decoder_load_time, {});
    } else {
      // The encoder loads on this thread, the decoder on a thread of its own; both are
      // joined before load_concurrently returns (or rethrows the first failure).
      std::tie(encoder, decoder) = warmpool::load_concurrently(
          [&](const std::stop_token& stop) {
            return load_model(encoder_file, encoder_load_time, stop);
          },
          [&](const std::stop_token& stop) {
            return load_model(decoder_file, decoder_load_time, stop);
          });
    }
    boot_time = Clock::now() - start;
  }

  float translate(float x) const { return decoder.weights.front() * encoder.weights.front() * x; }

  fs::path model_dir;
  Loading loading;
  Model encoder, decoder;
  Clock::duration boot_time{};
};

/// Boots one worker loading its models `how`, and returns how long its enter hook took.
long long boot_ms(const fs::path& model_dir, Loading how) {
  warmpool::Pool<Translator> pool({}, [&] { return std::make_unique<Translator>(model_dir, how); });
  const auto [y, boot_time] =
      pool.submit([](Translator& t) { return std::pair(t.translate(1.0f), t.boot_time); }).get();
  std::printf("   %-10s first input -> %.1f\n",
              how == Loading::sequential ? "sequential" : "concurrent", y);
  return std::chrono::duration_cast<std::chrono::milliseconds>(boot_time).count();
}

int main() {
  const fs::path model_dir =
      fs::temp_directory_path() /
      ("warmpool_concurrent_loading_" + std::to_string(Clock::now().time_since_epoch().count()));
  fs::create_directories(model_dir);
  write_model(model_dir / "encoder.bin", 2.0f);
  write_model(model_dir / "decoder.bin", 3.0f);

  std::printf(
      "warmpool concurrent loading: enter() loads an encoder (%lld ms) and a decoder (%lld ms)\n",
      static_cast<long long>(encoder_load_time.count()),
      static_cast<long long>(decoder_load_time.count()));
  const long long sequential = boot_ms(model_dir, Loading::sequential);
  const long long concurrent = boot_ms(model_dir, Loading::concurrent);
  std::printf("boot time: sequential: %lld ms, concurrent: %lld ms\n", sequential, concurrent);

  fs::remove_all(model_dir);
}
