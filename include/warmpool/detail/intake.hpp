#pragma once
// Internals: where posted inputs wait before the Controller hears of them.
//
// `Pool::post` does not wait for the pool's lock: it pushes its input onto the `Intake`
// (lock-free) and, when another thread will take it from there, returns at once. The
// thread holding the lock moves the intake to a `Held` queue in one step (flat
// combining), so producers and workers do not take turns on the lock for every input.

#include <atomic>
#include <cstddef>

namespace warmpool::detail {

/// A node of the intake (a posted input is one).
struct QueuedNode {
  QueuedNode* next_queued = nullptr;  // set by the intake while queued
};

/// A multi-producer list of nodes, taken whole by one consumer in arrival order.
class Intake {
 public:
  Intake() = default;
  Intake(const Intake&) = delete;
  Intake& operator=(const Intake&) = delete;
  ~Intake() = default;

  /// Adds `node` (sequentially consistent: ordered before what the posting thread reads
  /// and writes next, see "admission of posts" in pool.hpp).
  void push(QueuedNode* node) noexcept {
    QueuedNode* head = head_.load(std::memory_order_relaxed);
    do {
      node->next_queued = head;
    } while (!head_.compare_exchange_weak(head, node, std::memory_order_seq_cst,
                                          std::memory_order_relaxed));
  }

  /// Takes every queued node; returns the oldest, linked to the next by `next_queued`.
  QueuedNode* take_all() noexcept {
    QueuedNode* newest = head_.exchange(nullptr, std::memory_order_acquire);
    QueuedNode* oldest = nullptr;
    while (newest != nullptr) {
      QueuedNode* next = newest->next_queued;
      newest->next_queued = oldest;
      oldest = newest;
      newest = next;
    }
    return oldest;
  }

 private:
  std::atomic<QueuedNode*> head_{nullptr};
};

/// A FIFO of nodes of type `T` (derived from QueuedNode), linked through the nodes
/// themselves: no allocation. Not thread-safe (the pool's lock guards it).
template <class T>
class Held {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }

  void push_back(T* node) noexcept {
    QueuedNode* queued = node;
    queued->next_queued = nullptr;
    if (tail_ == nullptr) {
      head_ = queued;
    } else {
      tail_->next_queued = queued;
    }
    tail_ = queued;
    ++size_;
  }

  /// Removes and returns the oldest node (the queue must not be empty).
  T* pop_front() noexcept {
    QueuedNode* first = head_;
    head_ = first->next_queued;
    if (head_ == nullptr) tail_ = nullptr;
    --size_;
    return static_cast<T*>(first);
  }

 private:
  QueuedNode* head_ = nullptr;
  QueuedNode* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace warmpool::detail
