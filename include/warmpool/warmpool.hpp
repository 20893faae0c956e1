#pragma once
/// @file warmpool.hpp
/// @brief Umbrella header: includes every public warmpool header.
///
/// warmpool embeds serverless-style worker lifecycles in a C++ program: workers that
/// are costly to start are booted on demand, made warm by enter hooks, kept while
/// useful, evicted after an idle timeout, with a floor of always-warm workers.

#include "controller.hpp"
#include "errors.hpp"
#include "events.hpp"
#include "future.hpp"
#include "histogram.hpp"
#include "hybrid_histogram.hpp"
#include "keep_alive.hpp"
#include "lease.hpp"
#include "lifecycle.hpp"
#include "load_concurrently.hpp"
#include "manual_clock.hpp"
#include "pool.hpp"
#include "prometheus.hpp"
#include "result.hpp"
#include "schedule.hpp"
#include "settings.hpp"
#include "simulator.hpp"
#include "stats.hpp"
#include "version.hpp"
