// detail::Slab, the memory of inputs: slots reused once a segment is empty, large or
// over-aligned objects on the heap, blocks freed on another thread, and jobs made and
// deleted through it.

#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include <warmpool/detail/job.hpp>
#include <warmpool/detail/slab.hpp>

namespace {

using warmpool::detail::Segment;
using warmpool::detail::Slab;
using warmpool::detail::SlabHome;

struct Block {
  void* memory;
  SlabHome home;
};

Block allocate(Slab& slab, std::size_t size, std::size_t align = alignof(std::max_align_t)) {
  Block block{};
  block.memory = slab.allocate(size, align, block.home);
  return block;
}

struct NoWorker {};

/// A job that counts its destructions.
class CountedJob final : public warmpool::detail::Job<NoWorker> {
 public:
  CountedJob(warmpool::InputId id, int& destroyed) : Job(Kind::task, id), destroyed_(destroyed) {}
  ~CountedJob() override { ++destroyed_; }
  CountedJob(const CountedJob&) = delete;
  CountedJob& operator=(const CountedJob&) = delete;
  void fail(std::exception_ptr) noexcept override {}

 private:
  int& destroyed_;
};

/// A job too large for a slot.
class LargeJob final : public warmpool::detail::Job<NoWorker> {
 public:
  explicit LargeJob(warmpool::InputId id) : Job(Kind::task, id) {}
  void fail(std::exception_ptr) noexcept override {}
  std::byte payload[2 * Segment::slot_size]{};
};

}  // namespace

TEST_CASE("Slab: a segment's slots are distinct and come back for reuse once all are freed") {
  Slab slab;
  std::vector<Block> blocks;
  std::set<void*> first_round;
  for (std::size_t i = 0; i < Segment::slot_count; ++i) {
    blocks.push_back(allocate(slab, Segment::slot_size));
    REQUIRE(blocks.back().home.segment != nullptr);
    std::memset(blocks.back().memory, static_cast<int>(i), Segment::slot_size);
    first_round.insert(blocks.back().memory);
  }
  CHECK(first_round.size() == Segment::slot_count);
  for (const Block& block : blocks) block.home.release(block.memory);
  blocks.clear();

  std::set<void*> second_round;
  for (std::size_t i = 0; i < Segment::slot_count; ++i) {
    blocks.push_back(allocate(slab, 8));
    second_round.insert(blocks.back().memory);
  }
  CHECK(second_round == first_round);  // the emptied segment was kept and reused
  for (const Block& block : blocks) block.home.release(block.memory);
}

TEST_CASE("Slab: a segment with a slot still in use is not reused") {
  Slab slab;
  std::vector<Block> blocks;
  for (std::size_t i = 0; i < Segment::slot_count; ++i) blocks.push_back(allocate(slab, 16));
  const Block kept = blocks.front();
  for (std::size_t i = 1; i < blocks.size(); ++i) blocks[i].home.release(blocks[i].memory);
  const Block next = allocate(slab, 16);
  CHECK(next.home.segment != kept.home.segment);
  next.home.release(next.memory);
  kept.home.release(kept.memory);
}

TEST_CASE("Slab: large or over-aligned objects come from the heap, aligned as asked") {
  Slab slab;
  const Block large = allocate(slab, Segment::slot_size + 1);
  CHECK(large.home.segment == nullptr);
  constexpr std::size_t align = 256;
  const Block aligned = allocate(slab, 32, align);
  CHECK(aligned.home.segment == nullptr);
  CHECK(reinterpret_cast<std::uintptr_t>(aligned.memory) % align == 0);
  const Block small = allocate(slab, 32, 64);
  CHECK(small.home.segment != nullptr);
  CHECK(reinterpret_cast<std::uintptr_t>(small.memory) % 64 == 0);
  for (const Block& block : {large, aligned, small}) block.home.release(block.memory);
}

TEST_CASE("Slab: blocks allocated on one thread and freed on another keep their contents") {
  Slab slab;
  constexpr std::uint64_t count = 100'000;
  std::mutex mutex;
  std::vector<std::pair<Block, std::uint64_t>> handed;
  std::atomic<bool> produced{false};
  std::uint64_t intact = 0;
  std::thread consumer([&] {
    std::uint64_t seen = 0;
    while (seen < count) {
      std::vector<std::pair<Block, std::uint64_t>> batch;
      {
        std::lock_guard lock(mutex);
        batch.swap(handed);
      }
      for (const auto& [block, value] : batch) {
        std::uint64_t stored = 0;
        std::memcpy(&stored, block.memory, sizeof stored);
        if (stored == value) ++intact;
        block.home.release(block.memory);
      }
      seen += batch.size();
      if (batch.empty() && produced) std::this_thread::yield();
    }
  });
  for (std::uint64_t value = 0; value < count; ++value) {
    const Block block = allocate(slab, sizeof value);
    std::memcpy(block.memory, &value, sizeof value);
    std::lock_guard lock(mutex);
    handed.emplace_back(block, value);
  }
  produced = true;
  consumer.join();
  CHECK(intact == count);
}

TEST_CASE("Job::make: a job in a slot or on the heap is destroyed once and its memory freed") {
  Slab slab;
  int destroyed = 0;
  {
    std::unique_ptr<CountedJob> job =
        warmpool::detail::Job<NoWorker>::make<CountedJob>(slab, warmpool::InputId{1}, destroyed);
    CHECK(job->id() == 1);
    std::unique_ptr<warmpool::detail::Job<NoWorker>> as_base = std::move(job);
  }
  CHECK(destroyed == 1);
  auto large = warmpool::detail::Job<NoWorker>::make<LargeJob>(slab, warmpool::InputId{2});
  CHECK(large->id() == 2);
  large.reset();  // heap memory: ASan reports a mismatched or leaked free
}
