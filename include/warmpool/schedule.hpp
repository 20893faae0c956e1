#pragma once
/// @file schedule.hpp
/// @brief `Schedule`: keep_warm by time of day, in UTC or local time, and the `WallClock`
/// it is read with.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace warmpool {

/// @brief The source of wall-clock time (time of day) that schedules are read with.
///
/// Pools default to `[] { return std::chrono::system_clock::now(); }`; tests inject a
/// fake so that time of day is deterministic. It is called from pool threads, so it must
/// be safe to call from any thread. Example:
/// @code
/// auto fake_now = std::chrono::sys_days{std::chrono::year{2024} / 3 / 4} + std::chrono::hours(9);
/// warmpool::WallClock wall_clock = [&] { return fake_now; };
/// @endcode
using WallClock = std::function<std::chrono::system_clock::time_point()>;

namespace detail {

inline constexpr std::int64_t day_seconds = 86'400;

/// `a / b` rounded towards minus infinity (b > 0).
inline std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && (a < 0) ? 1 : 0);
}

/// The day of the week of day number `day` (0 = 1970-01-01).
inline std::chrono::weekday weekday_of(std::int64_t day) {
  return std::chrono::weekday{std::chrono::sys_days{std::chrono::days{day}}};
}

inline std::string two_digits(std::int64_t n) { return (n < 10 ? "0" : "") + std::to_string(n); }

/// "HH:MM", or "HH:MM:SS" when the seconds are not zero; negative values get a '-'.
inline std::string format_time_of_day(std::chrono::seconds t) {
  const std::int64_t total = t.count();
  const std::int64_t magnitude = total < 0 ? -total : total;
  std::string text =
      (total < 0 ? "-" : "") + two_digits(magnitude / 3600) + ":" + two_digits(magnitude / 60 % 60);
  if (magnitude % 60 != 0) text += ":" + two_digits(magnitude % 60);
  return text;
}

/// The number written with `min_digits` to `max_digits` decimal digits, if `text` is one.
inline std::optional<std::int64_t> parse_digits(std::string_view text, std::size_t min_digits,
                                                std::size_t max_digits) {
  if (text.size() < min_digits || text.size() > max_digits) return std::nullopt;
  std::int64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

/// Parses "H:MM", "HH:MM" or "HH:MM:SS" (hours not range-checked here).
/// @throws std::invalid_argument naming `field` on any other text.
inline std::chrono::seconds parse_time_of_day(std::string_view text, std::string_view field) {
  std::vector<std::string_view> parts;
  for (std::string_view rest = text;;) {
    const std::size_t colon = rest.find(':');
    parts.push_back(rest.substr(0, colon));
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  std::int64_t total = -1;
  if (parts.size() == 2 || parts.size() == 3) {
    const auto hours = parse_digits(parts[0], 1, 2);
    const auto minutes = parse_digits(parts[1], 2, 2);
    const auto seconds =
        parts.size() == 3 ? parse_digits(parts[2], 2, 2) : std::optional<std::int64_t>{0};
    if (hours && minutes && seconds && *minutes < 60 && *seconds < 60) {
      total = *hours * 3600 + *minutes * 60 + *seconds;
    }
  }
  if (total < 0) {
    throw std::invalid_argument(std::string(field) + " (\"" + std::string(text) +
                                "\") must be \"HH:MM\" or \"HH:MM:SS\" with minutes and "
                                "seconds in [00, 59]");
  }
  return std::chrono::seconds(total);
}

/// The wall-clock reading of the process's local time zone at instant `unix_seconds`, as
/// seconds since 1970-01-01 00:00 on that wall clock.
inline std::int64_t local_wall_seconds(std::int64_t unix_seconds) {
  const auto instant = static_cast<std::time_t>(unix_seconds);
  std::tm fields{};
#if defined(_WIN32)
  const bool converted = localtime_s(&fields, &instant) == 0;
#else
  const bool converted = localtime_r(&instant, &fields) != nullptr;
#endif
  if (!converted) {
    throw std::out_of_range("schedule: instant " + std::to_string(unix_seconds) +
                            "s cannot be converted to local time");
  }
  const std::chrono::year_month_day date{
      std::chrono::year{fields.tm_year + 1900},
      std::chrono::month{static_cast<unsigned>(fields.tm_mon + 1)},
      std::chrono::day{static_cast<unsigned>(fields.tm_mday)}};
  const std::int64_t day = std::chrono::sys_days{date}.time_since_epoch().count();
  const std::int64_t hour = fields.tm_hour;
  const std::int64_t minute = fields.tm_min;
  return day * day_seconds + hour * 3600 + minute * 60 + fields.tm_sec;
}

}  // namespace detail

/// @brief How many workers to keep warm at each time of day: windows `[start, end) -> n`,
/// and a value for the times outside every window.
///
/// - **Windows** are times of day (`HH:MM` or `HH:MM:SS`); `end` may be `24:00`, and an
///   `end` earlier than `start` wraps past midnight (`22:00`-`02:00`). A window may be
///   limited to days of the week; a window that wraps belongs to the day it starts on
///   (Friday `22:00`-`02:00` runs into Saturday morning).
/// - **Overlaps**: where windows overlap, the largest `min_warm` among them applies (order
///   of definition does not matter). Outside every window `otherwise()` applies (0 unless
///   set), even where it is larger than a window's value.
/// - **Zone**: `Zone::utc` reads UTC; `Zone::local` reads the process's local time zone
///   (the `TZ` environment variable, through `localtime_r`). The value at an instant is
///   decided by the wall-clock reading at that instant, so across DST changes: a boundary
///   whose local time does not exist (spring forward) takes effect at the end of the gap,
///   and a window lying wholly inside the gap is skipped that day; local times that occur
///   twice (fall back) are in force both times. A jump of the offset is itself a change
///   when it moves the reading into or out of a window.
/// - **Manual `keep_warm(n)`** (the rule pools apply): it overrides the schedule from the
///   moment it is set until the schedule's next boundary (`next_change_after()` of that
///   moment); from then on the schedule's value applies again. With a schedule that never
///   changes, the manual value holds until it is set again.
///
/// Thread-safety: a copyable value; `const` members may be called from several threads at
/// once, the builders need exclusive access. With `Zone::local`, call `tzset()` after
/// changing `TZ`, and not while another thread queries.
/// Example:
/// @code
/// using warmpool::Schedule;
/// const auto schedule = Schedule::local()
///                           .between("09:00", "17:00", 3, Schedule::Days::weekdays())
///                           .between("22:00", "02:00", 1)  // nightly batch, past midnight
///                           .otherwise(0);
/// std::size_t floor = schedule.min_warm_at(std::chrono::system_clock::now());
/// @endcode
class Schedule {
 public:
  /// @brief Which wall clock the times of day are read on.
  enum class Zone {
    utc,    ///< Coordinated Universal Time
    local,  ///< the process's local time zone (`TZ`), daylight saving included
  };

  /// @brief A set of days of the week a window is in force on.
  ///
  /// Thread-safety: a plain value. Example:
  /// @code
  /// using Days = warmpool::Schedule::Days;
  /// const Days weekend = Days{std::chrono::Saturday, std::chrono::Sunday};
  /// @endcode
  class Days {
   public:
    /// @brief The given days (at least one).
    /// @throws std::invalid_argument when `days` is empty or holds an invalid weekday.
    Days(std::initializer_list<std::chrono::weekday> days) {
      if (days.size() == 0) {
        throw std::invalid_argument("schedule window days must name at least one day");
      }
      for (const std::chrono::weekday day : days) {
        if (!day.ok()) {
          throw std::invalid_argument("schedule window day (" + std::to_string(day.c_encoding()) +
                                      ") must be in [0, 6] (Sunday = 0)");
        }
        mask_ = static_cast<std::uint8_t>(mask_ | (1U << day.c_encoding()));
      }
    }

    /// @brief All seven days.
    static Days every_day() {
      return {std::chrono::Sunday,    std::chrono::Monday,   std::chrono::Tuesday,
              std::chrono::Wednesday, std::chrono::Thursday, std::chrono::Friday,
              std::chrono::Saturday};
    }
    /// @brief Monday to Friday.
    static Days weekdays() {
      return {std::chrono::Monday, std::chrono::Tuesday, std::chrono::Wednesday,
              std::chrono::Thursday, std::chrono::Friday};
    }
    /// @brief Saturday and Sunday.
    static Days weekends() { return {std::chrono::Saturday, std::chrono::Sunday}; }

    /// @brief Whether `day` is in the set.
    bool contains(std::chrono::weekday day) const { return (mask_ >> day.c_encoding() & 1U) != 0; }

   private:
    std::uint8_t mask_ = 0;
  };

  /// @brief A UTC schedule with no windows: 0 at all times.
  Schedule() = default;
  /// @brief A schedule with no windows, read on `zone`: 0 at all times.
  explicit Schedule(Zone zone) : zone_(zone) {}

  /// @brief Shorthand for `Schedule(Zone::utc)`.
  static Schedule utc() { return Schedule(Zone::utc); }
  /// @brief Shorthand for `Schedule(Zone::local)`.
  static Schedule local() { return Schedule(Zone::local); }

  /// @brief Adds the window `[start, end) -> min_warm` on `days`; times as "HH:MM" or
  /// "HH:MM:SS", `start` in [00:00, 24:00), `end` in [00:00, 24:00] and not equal to start.
  /// @throws std::invalid_argument naming the field and its allowed range.
  Schedule& between(std::string_view start, std::string_view end, std::size_t min_warm,
                    Days days = Days::every_day()) {
    return between(detail::parse_time_of_day(start, "schedule window start"),
                   detail::parse_time_of_day(end, "schedule window end"), min_warm, days);
  }

  /// @brief Adds the window `[start, end) -> min_warm` on `days`, times given as durations
  /// since midnight (`between(6h, 18h, 3)`); same rules as the string form.
  /// @throws std::invalid_argument naming the field and its allowed range.
  Schedule& between(std::chrono::seconds start, std::chrono::seconds end, std::size_t min_warm,
                    Days days = Days::every_day()) {
    using detail::format_time_of_day;
    const std::chrono::seconds day{detail::day_seconds};
    if (start.count() < 0 || start >= day) {
      throw std::invalid_argument("schedule window start (" + format_time_of_day(start) +
                                  ") must be in [00:00, 24:00)");
    }
    if (end.count() < 0 || end > day) {
      throw std::invalid_argument("schedule window end (" + format_time_of_day(end) +
                                  ") must be in [00:00, 24:00]");
    }
    if (end == start) {
      throw std::invalid_argument("schedule window end (" + format_time_of_day(end) +
                                  ") must differ from its start; use 00:00 to 24:00 for a "
                                  "whole day");
    }
    const std::int64_t end_seconds = end.count() == 0 ? detail::day_seconds : end.count();
    windows_.push_back(Window{start.count(), end_seconds, min_warm, days});
    return *this;
  }

  /// @brief Sets the value outside every window (0 until set).
  Schedule& otherwise(std::size_t min_warm) {
    otherwise_ = min_warm;
    return *this;
  }

  /// @brief The number of workers to keep warm at instant `t`.
  /// @throws std::out_of_range with `Zone::local` when `t` has no local time.
  std::size_t min_warm_at(std::chrono::system_clock::time_point t) const {
    return value_at_second(unix_seconds(t));
  }

  /// @brief The first instant after `t` at which `min_warm_at` returns another value, or
  /// none when it never changes; always a whole second. This is when to set a timer.
  /// @throws std::out_of_range with `Zone::local` when an instant has no local time.
  std::optional<std::chrono::system_clock::time_point> next_change_after(
      std::chrono::system_clock::time_point t) const {
    std::int64_t current = unix_seconds(t);
    const std::size_t value = value_at_second(current);
    for (;;) {
      const std::int64_t wall = wall_seconds(current);
      const std::int64_t offset = wall - current;
      const auto wall_change = next_wall_change(wall);
      if (!wall_change) return std::nullopt;  // the same value at every time of day
      const std::int64_t candidate = *wall_change - offset;
      const auto offset_change = first_offset_change(current, candidate, offset);
      if (!offset_change) return as_time_point(candidate);
      if (value_at_second(*offset_change) != value) return as_time_point(*offset_change);
      current = *offset_change;
    }
  }

 private:
  /// `[start, end)` in seconds of the day it starts on; `end <= start` wraps past midnight.
  struct Window {
    std::int64_t start;
    std::int64_t end;  // in (0, 86400]
    std::size_t min_warm;
    Days days;

    bool wraps() const { return end <= start; }

    /// Whether the window is in force at second `time_of_day` of day number `day`.
    bool covers(std::int64_t day, std::int64_t time_of_day) const {
      if (!wraps()) {
        return start <= time_of_day && time_of_day < end && days.contains(detail::weekday_of(day));
      }
      return (time_of_day >= start && days.contains(detail::weekday_of(day))) ||
             (time_of_day < end && days.contains(detail::weekday_of(day - 1)));
    }
  };

  static std::int64_t unix_seconds(std::chrono::system_clock::time_point t) {
    return std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
  }

  static std::chrono::system_clock::time_point as_time_point(std::int64_t unix_seconds) {
    return std::chrono::system_clock::time_point{std::chrono::seconds{unix_seconds}};
  }

  /// The zone's wall-clock reading at an instant, in seconds since 1970-01-01 00:00.
  std::int64_t wall_seconds(std::int64_t unix_seconds) const {
    return zone_ == Zone::utc ? unix_seconds : detail::local_wall_seconds(unix_seconds);
  }

  std::size_t value_at_second(std::int64_t unix_seconds) const {
    return value_at_wall(wall_seconds(unix_seconds));
  }

  /// The value when the wall clock reads `wall` (seconds since 1970-01-01 00:00).
  std::size_t value_at_wall(std::int64_t wall) const {
    const std::int64_t day = detail::floor_div(wall, detail::day_seconds);
    const std::int64_t time_of_day = wall - day * detail::day_seconds;
    std::optional<std::size_t> largest;
    for (const Window& w : windows_) {
      if (w.covers(day, time_of_day)) largest = std::max(largest.value_or(0), w.min_warm);
    }
    return largest.value_or(otherwise_);
  }

  /// The first wall reading after `wall` with another value. The value repeats every week,
  /// so if it changes at all it changes within a week, at a window boundary; boundaries
  /// are visited day by day, in order.
  std::optional<std::int64_t> next_wall_change(std::int64_t wall) const {
    const std::int64_t today = detail::floor_div(wall, detail::day_seconds);
    const std::size_t value = value_at_wall(wall);
    std::vector<std::int64_t> boundaries;
    for (std::int64_t day = today; day <= today + 7; ++day) {
      boundaries_on(day, boundaries);
      for (const std::int64_t boundary : boundaries) {
        if (boundary > wall && value_at_wall(boundary) != value) return boundary;
      }
    }
    return std::nullopt;
  }

  /// Replaces `out` with the sorted window boundaries in `[day's midnight, next midnight]`:
  /// starts on `day`, ends of windows started on it, and wrapped ends of the day before.
  void boundaries_on(std::int64_t day, std::vector<std::int64_t>& out) const {
    out.clear();
    const std::int64_t midnight = day * detail::day_seconds;
    for (const Window& w : windows_) {
      if (w.days.contains(detail::weekday_of(day))) {
        out.push_back(midnight + w.start);
        if (!w.wraps()) out.push_back(midnight + w.end);
      }
      if (w.wraps() && w.days.contains(detail::weekday_of(day - 1))) {
        out.push_back(midnight + w.end);
      }
    }
    std::sort(out.begin(), out.end());
  }

  /// The first second in `(from, to]` at which the zone's UTC offset is no longer
  /// `offset`, if any. Probes a day apart (zones do not change their offset twice within
  /// a day), then bisects to the exact second.
  std::optional<std::int64_t> first_offset_change(std::int64_t from, std::int64_t to,
                                                  std::int64_t offset) const {
    if (zone_ == Zone::utc) return std::nullopt;
    const auto moved = [&](std::int64_t s) { return wall_seconds(s) - s != offset; };
    std::int64_t unchanged = from;
    for (;;) {
      const std::int64_t probe = std::min(to, unchanged + detail::day_seconds);
      if (moved(probe)) return bisect_first(unchanged, probe, moved);
      if (probe == to) return std::nullopt;
      unchanged = probe;
    }
  }

  /// The first second in `(low, high]` where `moved` holds, given it fails at `low` and
  /// holds at `high`.
  template <class Moved>
  static std::int64_t bisect_first(std::int64_t low, std::int64_t high, const Moved& moved) {
    while (high - low > 1) {
      const std::int64_t middle = low + (high - low) / 2;
      if (moved(middle)) {
        high = middle;
      } else {
        low = middle;
      }
    }
    return high;
  }

  Zone zone_ = Zone::utc;
  std::vector<Window> windows_;
  std::size_t otherwise_ = 0;
};

namespace detail {

/// The floor a pool keeps: a schedule, overridden by a manual `keep_warm(n)` from the
/// moment it is set until the schedule's next boundary after that moment (for ever when
/// the schedule never changes). Pure: every query takes the wall-clock time.
/// Thread-safety: none; the pool serialises calls.
class ScheduledFloor {
 public:
  explicit ScheduledFloor(Schedule schedule) : schedule_(std::move(schedule)) {}

  /// A manual `keep_warm(min_warm)` at wall-clock time `now`.
  void set_manual(std::size_t min_warm, std::chrono::system_clock::time_point now) {
    manual_ = Manual{min_warm, schedule_.next_change_after(now)};
  }

  /// The schedule it follows.
  const Schedule& schedule() const { return schedule_; }

  /// The floor in force at `now`.
  std::size_t min_warm_at(std::chrono::system_clock::time_point now) const {
    return manual_in_force(now) ? manual_->min_warm : schedule_.min_warm_at(now);
  }

  /// When the floor may next change after `now` (the end of the manual value, or the
  /// schedule's next change); none when it never will.
  std::optional<std::chrono::system_clock::time_point> next_change_after(
      std::chrono::system_clock::time_point now) const {
    return manual_in_force(now) ? manual_->until : schedule_.next_change_after(now);
  }

 private:
  struct Manual {
    std::size_t min_warm;
    std::optional<std::chrono::system_clock::time_point> until;  // none: for ever
  };

  bool manual_in_force(std::chrono::system_clock::time_point now) const {
    return manual_ && (!manual_->until || now < *manual_->until);
  }

  Schedule schedule_;
  std::optional<Manual> manual_;
};

}  // namespace detail
}  // namespace warmpool
