#pragma once
/// @file keep_alive.hpp
/// @brief `KeepAlivePolicy`: how long warm capacity is kept after the pool drains, and
/// when it is warmed again — the pluggable alternative to a fixed `idle_timeout`.

#include <chrono>
#include <optional>

namespace warmpool {

/// @brief What a keep-alive policy decides for one idle period of the pool.
///
/// Both offsets count from the moment the pool drained (nothing running, pending or
/// retrying). With `prewarm_after > 0`, warm workers above `min_warm` are released at once
/// and as many are booted again at `prewarm_after`; they are kept until `keep_until`, then
/// evicted. With `prewarm_after == 0` they are simply kept until `keep_until`. An arrival
/// ends the idle period; the normal rules apply again.
struct KeepAliveWindows {
  /// @brief When to have the capacity warm again; 0 keeps it warm throughout.
  std::chrono::nanoseconds prewarm_after{};
  /// @brief When to let the capacity go (>= prewarm_after).
  std::chrono::nanoseconds keep_until{};

  /// @brief Field-wise equality.
  friend bool operator==(const KeepAliveWindows&, const KeepAliveWindows&) = default;
};

/// @brief A keep-alive policy: learns from the pool's idle gaps and decides the windows of
/// the next idle period. Set one in `Options::keep_alive`; without one (the default) the
/// fixed `Autoscaler::idle_timeout` applies.
///
/// An idle gap is the time from the moment the pool drained to the next arrival. The
/// Controller calls the policy under its body's lock, so an implementation needs no lock
/// of its own, but one instance must serve one pool only. Example (a policy that keeps
/// capacity for twice the longest gap seen):
/// @code
/// struct TwiceLongest final : warmpool::KeepAlivePolicy {
///   std::chrono::nanoseconds longest{};
///   void record_idle_gap(std::chrono::nanoseconds gap) override { longest = std::max(longest,
///   gap); } std::optional<warmpool::KeepAliveWindows> windows() const override {
///     return warmpool::KeepAliveWindows{.keep_until = 2 * longest};
///   }
/// };
/// @endcode
class KeepAlivePolicy {
 public:
  /// @brief Policies are destroyed through this interface.
  virtual ~KeepAlivePolicy() = default;

  /// @brief The pool was drained for `gap` before an input arrived.
  virtual void record_idle_gap(std::chrono::nanoseconds gap) = 0;

  /// @brief The windows for an idle period starting now; no value falls back to the fixed
  /// `idle_timeout` (for example while too little has been learned).
  virtual std::optional<KeepAliveWindows> windows() const = 0;
};

}  // namespace warmpool
