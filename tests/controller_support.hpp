#pragma once
// Helpers shared by the Controller tests (controller_test.cpp,
// recycling_controller_test.cpp).
//
// Each of those files keeps its own Batch, Ids, Starts and Gauges (and so its own drain):
// controller_test.cpp compares plain std::vectors printed by doctest::StringMaker
// specialisations, while recycling_controller_test.cpp needs its own printable types
// (a Start there also compares `cold` and `check_health`), and a second StringMaker
// specialisation for the same std::vector would clash.

#include <doctest/doctest.h>

#include <cstddef>

#include <warmpool/controller.hpp>

namespace controller_support {

using warmpool::Action;
using warmpool::Admission;
using warmpool::Arrival;
using warmpool::Autoscaler;
using warmpool::AutoscalerUpdate;
using warmpool::Controller;
using warmpool::Drain;
using warmpool::EvictReason;
using warmpool::FailReason;
using warmpool::InputId;
using warmpool::Options;
using warmpool::Outcome;
using warmpool::Retries;
using warmpool::Stats;
using warmpool::WorkerId;
using Kind = Action::Kind;
using Time = Controller::Time;

/// Options with the given autoscaler and `max_inputs`, everything else default.
inline Options options(Autoscaler autoscaler, std::size_t max_inputs = 1) {
  Options o;
  o.autoscaler = autoscaler;
  o.max_inputs = max_inputs;
  return o;
}

/// Every accepted input ended exactly once (call when nothing is pending, running or
/// waiting for a retry).
inline void check_accounting(const Stats& s) {
  REQUIRE(s.inputs_pending == 0);
  REQUIRE(s.inputs_running == 0);
  REQUIRE(s.inputs_retrying == 0);
  CHECK(s.inputs_submitted == s.inputs_completed + s.inputs_failed + s.inputs_cancelled +
                                  s.inputs_timed_out + s.inputs_closed + s.inputs_lost +
                                  s.inputs_enter_failed);
}

}  // namespace controller_support
