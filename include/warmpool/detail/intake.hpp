#pragma once
// Internals: where posted inputs wait before the Controller hears of them.
//
// `Pool::post` does not wait for the pool's lock: it pushes its input onto the `Intake`
// and, when another thread will admit it from there, returns at once. The thread that
// holds the pool's lock takes inputs off the intake in arrival order, as many as it
// admits, so a producer and the workers touch different cache lines in a long backlog.

#include <atomic>
#include <cstdint>

#include "spin_mutex.hpp"

namespace warmpool::detail {

/// A node of the intake (a posted input is one).
struct QueuedNode {
  std::atomic<QueuedNode*> next_queued{nullptr};  // set by the intake while queued
};

/// A first-in first-out queue of nodes, linked through the nodes themselves (no
/// allocation): any thread pushes, without waiting for another; one thread at a time pops
/// (the pool's lock holder). It counts both, so the pool can tell how many nodes wait.
/// (An intrusive queue after Dmitry Vyukov's: a push swaps itself in as the tail, then
/// links the node before it; the consumer waits out the moment between the two.)
class Intake {
 public:
  Intake() = default;
  Intake(const Intake&) = delete;
  Intake& operator=(const Intake&) = delete;
  ~Intake() = default;

  /// Adds `node` and returns how many pushes have been counted with this one. The swap is
  /// sequentially consistent: ordered before what the posting thread reads next (see
  /// "admission of posts" in pool.hpp).
  std::uint64_t push(QueuedNode* node) noexcept {
    link(node);
    return pushed_.fetch_add(1, std::memory_order_seq_cst) + 1;
  }

  /// Pops nodes oldest first, handing each to `take`, while `more()` holds and a node is
  /// queued (consumer only). It stops at the nodes queued when it took the first one, so a
  /// thread that keeps posting cannot keep the consumer here. The tail is read only to pop
  /// a second node or the last one: in a backlog taken one node at a time, the producers
  /// keep the tail's cache line to themselves.
  template <class More, class Take>
  void pop_queued(More&& more, Take&& take) {
    if (!more() || !queued()) return;
    take(pop());
    if (!more()) return;
    const QueuedNode* const newest = tail_.load(std::memory_order_seq_cst);
    if (newest == &stub_) {  // the nodes before the stub, if any
      while (head_ != &stub_ && more()) take(pop());
      return;
    }
    while (more()) {
      QueuedNode* node = pop();  // not null: `newest` is still queued
      const bool was_newest = node == newest;
      take(node);
      if (was_newest) return;
    }
  }

  /// How many nodes have been popped (consumer only).
  std::uint64_t popped() const noexcept { return popped_; }

 private:
  /// Removes and returns the oldest node, waiting for its link if need be (there must be
  /// one: a node other than the stub is queued).
  QueuedNode* pop() noexcept {
    QueuedNode* oldest = head_;
    if (oldest == &stub_) oldest = head_ = linked_after(oldest);
    if (!queued_after(oldest)) link(&stub_);  // the last node: leave the stub in its place
    head_ = linked_after(oldest);
    ++popped_;
    return oldest;
  }

  /// Makes `node` the tail and links the one before it to it.
  void link(QueuedNode* node) noexcept {
    node->next_queued.store(nullptr, std::memory_order_relaxed);
    QueuedNode* before = tail_.exchange(node, std::memory_order_seq_cst);
    before->next_queued.store(node, std::memory_order_release);
  }

  /// Whether a node is queued, counting one whose push has swapped the tail but not yet
  /// linked it. The tail is read only when no node is linked.
  bool queued() const noexcept { return head_ != &stub_ || queued_after(&stub_); }

  /// Whether a node was pushed after `node` (its link may still be on its way).
  bool queued_after(const QueuedNode* node) const noexcept {
    return node->next_queued.load(std::memory_order_acquire) != nullptr ||
           tail_.load(std::memory_order_seq_cst) != node;
  }

  /// The node after `node`, waiting for a push that has swapped the tail to link it.
  static QueuedNode* linked_after(const QueuedNode* node) noexcept {
    for (std::uint32_t round = 1;; ++round) {
      if (QueuedNode* next = node->next_queued.load(std::memory_order_acquire)) return next;
      spin_round(round);  // the pushing thread may have lost its core
    }
  }

  alignas(cache_line) std::atomic<QueuedNode*> tail_{&stub_};  // producers
  std::atomic<std::uint64_t> pushed_{0};
  alignas(cache_line) QueuedNode* head_ = &stub_;  // the consumer
  std::uint64_t popped_ = 0;
  QueuedNode stub_;
};

}  // namespace warmpool::detail
