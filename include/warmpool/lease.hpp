#pragma once
/// @file lease.hpp
/// @brief `Lease<Worker>`: exclusive use of one warm worker on the caller's own thread.

#include <cassert>
#include <utility>

#include "controller.hpp"

namespace warmpool {

template <class Worker, class Clock>
class Pool;

namespace detail {

/// Where a lease goes back to (implemented by Pool).
class LeaseHome {
 public:
  virtual void give_back(InputId lease, bool broken) noexcept = 0;

 protected:
  ~LeaseHome() = default;
};

}  // namespace detail

/// @brief A warm worker lent to the caller (connection-pool style), returned on destruction.
///
/// A lease occupies one of the worker's `max_inputs` slots and counts as a running
/// input, so the worker counts as busy until the lease ends. `discard()` says the
/// worker is broken: it is evicted (its exit hooks run) and replaced if the target
/// needs it. A lease must end before its pool is destroyed.
///
/// Thread-safety: a lease may be used and destroyed on any thread, but one lease must
/// not be used from two threads at once. Example:
/// @code
/// {
///   auto db = pool.acquire();          // waits for a warm worker
///   db->query("select 1");
/// }                                    // the worker is idle again
/// @endcode
template <class Worker>
class Lease {
 public:
  /// @brief Moves the lease; `other` becomes empty.
  Lease(Lease&& other) noexcept
      : home_(std::exchange(other.home_, nullptr)),
        worker_(std::exchange(other.worker_, nullptr)),
        id_(other.id_) {}

  /// @brief Gives back the worker held now, then takes over `other`.
  Lease& operator=(Lease&& other) noexcept {
    if (this != &other) {
      end(false);
      home_ = std::exchange(other.home_, nullptr);
      worker_ = std::exchange(other.worker_, nullptr);
      id_ = other.id_;
    }
    return *this;
  }

  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  /// @brief Returns the worker to the pool, where it becomes idle (or takes pending work).
  ~Lease() { end(false); }

  /// @brief The leased worker. Precondition: the lease is not empty.
  Worker& operator*() const noexcept {
    assert(worker_ != nullptr);
    return *worker_;
  }
  /// @brief The leased worker. Precondition: the lease is not empty.
  Worker* operator->() const noexcept {
    assert(worker_ != nullptr);
    return worker_;
  }
  /// @brief The leased worker, or null once moved from or discarded.
  Worker* get() const noexcept { return worker_; }
  /// @brief True while the lease holds a worker.
  explicit operator bool() const noexcept { return worker_ != nullptr; }

  /// @brief Marks the worker broken and gives it back now: it is evicted (exit hooks run)
  /// and replaced if needed. The lease is empty afterwards.
  void discard() noexcept { end(true); }

 private:
  template <class, class>
  friend class Pool;

  Lease(detail::LeaseHome& home, Worker& worker, InputId id) noexcept
      : home_(&home), worker_(&worker), id_(id) {}

  void end(bool broken) noexcept {
    if (home_ != nullptr) {
      std::exchange(home_, nullptr)->give_back(id_, broken);
      worker_ = nullptr;
    }
  }

  detail::LeaseHome* home_;
  Worker* worker_;
  InputId id_;
};

}  // namespace warmpool
