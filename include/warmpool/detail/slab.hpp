#pragma once
// Internals: memory for inputs, carved in fixed-size slots from segments of 64.
//
// An input is allocated on the thread that submits it and freed on a worker's thread.
// With the general allocator every such free is a cross-thread free (glibc takes the
// allocating thread's arena lock for each one), which dominated the warm path. Here the
// warm path allocates once per 64 inputs, and freeing an input is one atomic decrement
// on its segment; the thread that frees a segment's last slot gives it back to the slab.

#include <array>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <new>
#include <vector>

#include "spin_mutex.hpp"

namespace warmpool::detail {

class Slab;

/// Where a block came from, so it can be given back: a slab segment, or the heap (with
/// its alignment) when the object was too large or too aligned for a slot.
struct SlabHome {
  struct Segment* segment = nullptr;
  std::size_t heap_align = alignof(std::max_align_t);

  /// Gives `memory` back to where it came from.
  void release(void* memory) const noexcept;
};

/// Slots handed out in order; a segment goes back to its slab when all have come back.
struct Segment {
  static constexpr std::size_t slot_size = 256;
  static constexpr std::size_t slot_count = 64;

  explicit Segment(Slab& home) : owner(&home) {}

  Slab* owner;
  std::size_t handed_out = 0;                       // under the owner's lock
  std::atomic<std::size_t> unreleased{slot_count};  // slots not yet given back
  alignas(cache_line) std::array<std::array<std::byte, slot_size>, slot_count> slots;
};

/// A per-pool allocator of input-sized blocks. Thread-safety: `allocate` from any thread;
/// `SlabHome::release` from any thread, at most once per block, before the slab dies.
class Slab {
 public:
  /// Segments kept for reuse once empty (beyond this, an empty one is deleted).
  static constexpr std::size_t kept_segments = 16;

  Slab() { spares_.reserve(kept_segments); }
  Slab(const Slab&) = delete;
  Slab& operator=(const Slab&) = delete;
  ~Slab() {
    delete current_;
    for (Segment* spare : spares_) delete spare;
  }

  /// A block of at least `size` bytes aligned to `align`; `home` says how to free it.
  void* allocate(std::size_t size, std::size_t align, SlabHome& home) {
    if (size > Segment::slot_size || align > cache_line) {
      home = {.segment = nullptr, .heap_align = align};
      return ::operator new (size, std::align_val_t{align});
    }
    std::lock_guard lock(mutex_);
    if (current_ == nullptr || current_->handed_out == Segment::slot_count) {
      current_ = fresh_segment();
    }
    home = {.segment = current_, .heap_align = align};
    return current_->slots[current_->handed_out++].data();
  }

 private:
  friend struct SlabHome;

  /// A segment with every slot free (under the lock). A full current segment is simply
  /// dropped here: the release of its last slot gives it back.
  Segment* fresh_segment() {
    if (spares_.empty()) return new Segment(*this);
    Segment* segment = spares_.back();
    spares_.pop_back();
    segment->handed_out = 0;
    segment->unreleased.store(Segment::slot_count, std::memory_order_relaxed);
    return segment;
  }

  /// Called once every slot of `segment` has been released.
  void take_back(Segment* segment) noexcept {
    {
      std::lock_guard lock(mutex_);
      if (segment == current_) current_ = nullptr;
      if (spares_.size() < kept_segments) {
        spares_.push_back(segment);  // reserved: does not allocate
        return;
      }
    }
    delete segment;
  }

  SpinMutex mutex_;
  Segment* current_ = nullptr;    // slots are handed out from here
  std::vector<Segment*> spares_;  // empty segments kept for reuse
};

inline void SlabHome::release(void* memory) const noexcept {
  if (segment == nullptr) {
    ::operator delete (memory, std::align_val_t{heap_align});
    return;
  }
  if (segment->unreleased.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    segment->owner->take_back(segment);
  }
}

}  // namespace warmpool::detail
