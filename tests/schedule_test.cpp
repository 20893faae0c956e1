// Tests of Schedule: keep_warm by time of day (UTC and local time with DST), its
// next_change_after against brute force, validation, and the manual keep_warm rule.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <warmpool/schedule.hpp>

namespace {

using namespace std::chrono_literals;
using std::chrono::system_clock;
using warmpool::Schedule;
using Days = warmpool::Schedule::Days;
using TimePoint = system_clock::time_point;

/// The UTC instant y-m-d h:min:s.
TimePoint utc(int y, unsigned m, unsigned d, int h, int min = 0, int s = 0) {
  const std::chrono::sys_days day{std::chrono::year{y} / m / d};
  return day + std::chrono::hours(h) + std::chrono::minutes(min) + std::chrono::seconds(s);
}

/// Sets TZ for the lifetime of the object and restores it afterwards.
class ScopedTimeZone {
 public:
  explicit ScopedTimeZone(const char* zone) {
    if (const char* old = std::getenv("TZ")) saved_ = old;
    setenv("TZ", zone, 1);
    tzset();
  }
  ~ScopedTimeZone() {
    if (saved_) {
      setenv("TZ", saved_->c_str(), 1);
    } else {
      unsetenv("TZ");
    }
    tzset();
  }
  ScopedTimeZone(const ScopedTimeZone&) = delete;
  ScopedTimeZone& operator=(const ScopedTimeZone&) = delete;

 private:
  std::optional<std::string> saved_;
};

bool have_zone(const std::string& name) {
  return std::filesystem::exists("/usr/share/zoneinfo/" + name);
}

/// The local time zone's UTC offset at `t`, in seconds.
long utc_offset(TimePoint t) {
  const std::time_t instant = system_clock::to_time_t(t);
  std::tm fields{};
  localtime_r(&instant, &fields);
  return fields.tm_gmtoff;
}

std::string describe(std::optional<TimePoint> t) {
  if (!t) return "none";
  return std::to_string(std::chrono::floor<std::chrono::seconds>(*t).time_since_epoch().count()) +
         "s";
}

/// Compares `next_change_after` with brute force: `min_warm_at` sampled every minute from
/// `begin` for `span` (plus 8 days to find the change after the last sample). All
/// boundaries and offset changes must fall on whole minutes. `next_change_after` is asked
/// once per minute (at a second that varies), and just before and at every change.
/// Returns "" when all agree, else the first disagreement.
std::string disagreement_with_brute_force(const Schedule& schedule, TimePoint begin,
                                          std::chrono::hours span) {
  const auto minutes_checked = std::chrono::minutes(span).count();
  const auto minutes_scanned = minutes_checked + std::chrono::minutes(24h * 8).count();
  const auto minute = [&](long i) { return begin + std::chrono::minutes(i); };
  std::vector<std::size_t> values;
  for (long i = 0; i <= minutes_scanned; ++i) values.push_back(schedule.min_warm_at(minute(i)));
  long next_change = 1;
  for (long i = 0; i < minutes_checked; ++i) {
    if (next_change <= i) next_change = i + 1;
    while (next_change <= minutes_scanned && values[next_change] == values[i]) ++next_change;
    const std::optional<TimePoint> expected = next_change <= minutes_scanned
                                                  ? std::optional<TimePoint>(minute(next_change))
                                                  : std::nullopt;
    std::vector<TimePoint> asked{minute(i) + std::chrono::seconds(i * 7 % 60) + 500ms};
    if (i == 0 || values[i] != values[i - 1]) asked.push_back(minute(i));
    if (next_change == i + 1) asked.push_back(minute(i + 1) - 1ns);
    for (const TimePoint t : asked) {
      const auto actual = schedule.next_change_after(t);
      if (actual != expected) {
        return "at " + describe(t) + ": next_change_after = " + describe(actual) +
               ", brute force = " + describe(expected);
      }
    }
  }
  return "";
}

/// Schedules with every feature, for the brute-force comparisons.
std::vector<Schedule> varied_schedules(Schedule (*make)()) {
  return {
      make().between("09:00", "17:00", 3, Days::weekdays()).otherwise(1),
      make()
          .between("22:00", "02:00", 2, {std::chrono::Friday})
          .between("01:30", "01:45", 5)
          .between("02:10", "02:40", 4)
          .between("06:00", "24:00", 1, Days::weekends()),
      make().between("06:00", "12:00", 2).between("12:00", "18:00", 2),
      make().between("08:00", "20:00", 1).between("10:00", "12:00", 4).between("11:00", "13:00", 2),
      make().between("00:00", "01:00", 6, {std::chrono::Monday}).otherwise(3),
      make().between("00:00", "24:00", 2),
      make().otherwise(4),
  };
}

}  // namespace

TEST_CASE("schedule: without windows the value is constant and never changes") {
  const Schedule none;
  CHECK(none.min_warm_at(utc(2024, 3, 4, 12)) == 0);
  CHECK_FALSE(none.next_change_after(utc(2024, 3, 4, 12)).has_value());

  const auto two = Schedule::utc().otherwise(2);
  CHECK(two.min_warm_at(utc(1969, 12, 31, 23, 59, 59)) == 2);
  CHECK(two.min_warm_at(utc(2024, 3, 4, 12)) == 2);
  CHECK_FALSE(two.next_change_after(utc(2024, 3, 4, 12)).has_value());
}

TEST_CASE("schedule: a UTC window applies from its start, inclusive, to its end, exclusive") {
  const auto s = Schedule::utc().between("06:00", "18:00", 3).otherwise(1);
  CHECK(s.min_warm_at(utc(2024, 3, 4, 5, 59, 59)) == 1);
  CHECK(s.min_warm_at(utc(2024, 3, 4, 5, 59, 59) + 999ms) == 1);
  CHECK(s.min_warm_at(utc(2024, 3, 4, 6)) == 3);
  CHECK(s.min_warm_at(utc(2024, 3, 4, 12)) == 3);
  CHECK(s.min_warm_at(utc(2024, 3, 4, 17, 59, 59) + 999ms) == 3);
  CHECK(s.min_warm_at(utc(2024, 3, 4, 18)) == 1);
  CHECK(s.min_warm_at(utc(2024, 3, 4, 23, 59, 59)) == 1);

  CHECK(s.next_change_after(utc(2024, 3, 4, 0)) == utc(2024, 3, 4, 6));
  CHECK(s.next_change_after(utc(2024, 3, 4, 5, 59, 59) + 500ms) == utc(2024, 3, 4, 6));
  CHECK(s.next_change_after(utc(2024, 3, 4, 6)) == utc(2024, 3, 4, 18));
  CHECK(s.next_change_after(utc(2024, 3, 4, 18)) == utc(2024, 3, 5, 6));
  // Before 1970 too (seconds are floored, not truncated towards zero).
  CHECK(s.min_warm_at(utc(1969, 12, 31, 17, 59, 59) + 500ms) == 3);
  CHECK(s.next_change_after(utc(1969, 12, 31, 17, 59, 59) + 500ms) == utc(1969, 12, 31, 18));
}

TEST_CASE("schedule: durations and seconds give the same windows as strings") {
  const auto by_text = Schedule::utc().between("06:30", "18:00:15", 3);
  const auto by_duration = Schedule::utc().between(6h + 30min, 18h + 15s, 3);
  for (const Schedule& s : {by_text, by_duration}) {
    CHECK(s.min_warm_at(utc(2024, 3, 4, 6, 29, 59)) == 0);
    CHECK(s.min_warm_at(utc(2024, 3, 4, 6, 30)) == 3);
    CHECK(s.min_warm_at(utc(2024, 3, 4, 18, 0, 14)) == 3);
    CHECK(s.min_warm_at(utc(2024, 3, 4, 18, 0, 15)) == 0);
    CHECK(s.next_change_after(utc(2024, 3, 4, 7)) == utc(2024, 3, 4, 18, 0, 15));
  }
  CHECK(Schedule::utc().between("6:05", "07:00", 1).min_warm_at(utc(2024, 3, 4, 6, 5)) == 1);
}

TEST_CASE("schedule: a window whose end is before its start wraps past midnight") {
  const auto s = Schedule::utc().between("22:00", "02:00", 2);
  CHECK(s.min_warm_at(utc(2024, 3, 4, 21, 59, 59)) == 0);
  CHECK(s.min_warm_at(utc(2024, 3, 4, 22)) == 2);
  CHECK(s.min_warm_at(utc(2024, 3, 4, 23, 59, 59)) == 2);
  CHECK(s.min_warm_at(utc(2024, 3, 5, 0)) == 2);
  CHECK(s.min_warm_at(utc(2024, 3, 5, 1, 59, 59)) == 2);
  CHECK(s.min_warm_at(utc(2024, 3, 5, 2)) == 0);
  CHECK(s.next_change_after(utc(2024, 3, 4, 23)) == utc(2024, 3, 5, 2));
  CHECK(s.next_change_after(utc(2024, 3, 5, 2)) == utc(2024, 3, 5, 22));
}

TEST_CASE("schedule: 24:00 and 00:00 both end a window at midnight; 00:00-24:00 is all day") {
  const auto to_24 = Schedule::utc().between("18:00", "24:00", 1);
  const auto to_00 = Schedule::utc().between("18:00", "00:00", 1);
  for (const Schedule& s : {to_24, to_00}) {
    CHECK(s.min_warm_at(utc(2024, 3, 4, 23, 59, 59)) == 1);
    CHECK(s.min_warm_at(utc(2024, 3, 5, 0)) == 0);
    CHECK(s.next_change_after(utc(2024, 3, 4, 19)) == utc(2024, 3, 5, 0));
  }
  const auto all_day = Schedule::utc().between("00:00", "24:00", 2);
  CHECK(all_day.min_warm_at(utc(2024, 3, 4, 0)) == 2);
  CHECK(all_day.min_warm_at(utc(2024, 3, 4, 23, 59, 59)) == 2);
  CHECK_FALSE(all_day.next_change_after(utc(2024, 3, 4, 0)).has_value());
}

TEST_CASE("schedule: windows limited to days of the week") {
  // 2024-03-04 is a Monday; 2024-03-08 a Friday; 2024-03-09 a Saturday.
  const auto office = Schedule::utc().between("09:00", "17:00", 3, Days::weekdays());
  CHECK(office.min_warm_at(utc(2024, 3, 4, 10)) == 3);
  CHECK(office.min_warm_at(utc(2024, 3, 8, 16, 59, 59)) == 3);
  CHECK(office.min_warm_at(utc(2024, 3, 9, 10)) == 0);
  CHECK(office.min_warm_at(utc(2024, 3, 10, 10)) == 0);
  CHECK(office.next_change_after(utc(2024, 3, 8, 17)) == utc(2024, 3, 11, 9));

  const auto weekend = Schedule::utc().between("10:00", "12:00", 1, Days::weekends());
  CHECK(weekend.min_warm_at(utc(2024, 3, 9, 11)) == 1);
  CHECK(weekend.min_warm_at(utc(2024, 3, 10, 11)) == 1);
  CHECK(weekend.min_warm_at(utc(2024, 3, 11, 11)) == 0);

  const auto every = Schedule::utc().between("10:00", "12:00", 1, Days::every_day());
  for (unsigned day = 4; day <= 10; ++day) CHECK(every.min_warm_at(utc(2024, 3, day, 11)) == 1);

  // A wrapping window belongs to the day it starts on.
  const auto friday_night = Schedule::utc().between("22:00", "02:00", 2, {std::chrono::Friday});
  CHECK(friday_night.min_warm_at(utc(2024, 3, 8, 1)) == 0);   // Friday early: Thursday's
  CHECK(friday_night.min_warm_at(utc(2024, 3, 8, 23)) == 2);  // Friday night
  CHECK(friday_night.min_warm_at(utc(2024, 3, 9, 1)) == 2);   // ... into Saturday
  CHECK(friday_night.min_warm_at(utc(2024, 3, 9, 23)) == 0);
  CHECK(friday_night.next_change_after(utc(2024, 3, 9, 2)) == utc(2024, 3, 15, 22));
}

TEST_CASE("schedule: where windows overlap the largest value wins, in any order") {
  const auto low_first =
      Schedule::utc().between("08:00", "20:00", 1).between("10:00", "12:00", 4).otherwise(0);
  const auto high_first =
      Schedule::utc().between("10:00", "12:00", 4).between("08:00", "20:00", 1).otherwise(0);
  for (const Schedule& s : {low_first, high_first}) {
    CHECK(s.min_warm_at(utc(2024, 3, 4, 9)) == 1);
    CHECK(s.min_warm_at(utc(2024, 3, 4, 11)) == 4);
    CHECK(s.min_warm_at(utc(2024, 3, 4, 13)) == 1);
    CHECK(s.next_change_after(utc(2024, 3, 4, 11)) == utc(2024, 3, 4, 12));
  }
  // Adjacent windows with one value are one stretch: no change at their seam.
  const auto seam = Schedule::utc().between("06:00", "12:00", 2).between("12:00", "18:00", 2);
  CHECK(seam.next_change_after(utc(2024, 3, 4, 7)) == utc(2024, 3, 4, 18));
  // Inside a window its value applies, even when `otherwise` is larger.
  const auto quiet = Schedule::utc().between("01:00", "05:00", 0).otherwise(2);
  CHECK(quiet.min_warm_at(utc(2024, 3, 4, 3)) == 0);
  CHECK(quiet.min_warm_at(utc(2024, 3, 4, 6)) == 2);
}

TEST_CASE("schedule: next_change_after agrees with minute-by-minute brute force (UTC)") {
  const auto schedules = varied_schedules(&Schedule::utc);
  for (std::size_t i = 0; i < schedules.size(); ++i) {
    CAPTURE(i);
    CHECK(disagreement_with_brute_force(schedules[i], utc(2024, 3, 4, 0), 24h * 7) == "");
  }
}

TEST_CASE("schedule: local time follows the zone's UTC offset across DST (New York)") {
  if (!have_zone("America/New_York")) {
    MESSAGE("skipped: no tzdata for America/New_York in /usr/share/zoneinfo");
    return;
  }
  const ScopedTimeZone zone("America/New_York");
  // 2024-03-10 02:00 EST -> 03:00 EDT at 07:00Z; 2024-11-03 02:00 EDT -> 01:00 EST at 06:00Z.
  SUBCASE("business hours move in UTC with the offset") {
    const auto office = Schedule::local().between("09:00", "17:00", 3, Days::weekdays());
    CHECK(office.min_warm_at(utc(2024, 3, 8, 13, 59, 59)) == 0);   // Friday 08:59:59 EST
    CHECK(office.min_warm_at(utc(2024, 3, 8, 14)) == 3);           // Friday 09:00 EST
    CHECK(office.min_warm_at(utc(2024, 3, 11, 12, 59, 59)) == 0);  // Monday 08:59:59 EDT
    CHECK(office.min_warm_at(utc(2024, 3, 11, 13)) == 3);          // Monday 09:00 EDT
    CHECK(office.next_change_after(utc(2024, 3, 8, 22)) == utc(2024, 3, 11, 13));
  }
  SUBCASE("a boundary inside the spring-forward gap takes effect at the end of the gap") {
    const auto s = Schedule::local().between("02:30", "04:00", 2);
    CHECK(s.min_warm_at(utc(2024, 3, 9, 7, 30)) == 2);       // Saturday 02:30 EST
    CHECK(s.min_warm_at(utc(2024, 3, 10, 6, 59, 59)) == 0);  // 01:59:59 EST
    CHECK(s.min_warm_at(utc(2024, 3, 10, 7)) == 2);          // 03:00 EDT
    CHECK(s.next_change_after(utc(2024, 3, 10, 6)) == utc(2024, 3, 10, 7));
    CHECK(s.next_change_after(utc(2024, 3, 10, 7)) == utc(2024, 3, 10, 8));  // 04:00 EDT
  }
  SUBCASE("a window wholly inside the spring-forward gap is skipped that day") {
    const auto s = Schedule::local().between("02:10", "02:40", 4);
    CHECK(s.min_warm_at(utc(2024, 3, 9, 7, 20)) == 4);  // Saturday 02:20 EST
    for (int minute = 0; minute < 120; ++minute) {
      CHECK(s.min_warm_at(utc(2024, 3, 10, 6, minute)) == 0);
    }
    CHECK(s.next_change_after(utc(2024, 3, 10, 5)) == utc(2024, 3, 11, 6, 10));  // 02:10 EDT
  }
  SUBCASE("a window in the repeated hour of fall-back is in force both times") {
    const auto s = Schedule::local().between("01:30", "02:00", 5);
    CHECK(s.min_warm_at(utc(2024, 11, 3, 5, 29)) == 0);                          // 01:29 EDT
    CHECK(s.next_change_after(utc(2024, 11, 3, 5)) == utc(2024, 11, 3, 5, 30));  // 01:30 EDT
    CHECK(s.next_change_after(utc(2024, 11, 3, 5, 30)) == utc(2024, 11, 3, 6));  // 01:00 EST
    CHECK(s.min_warm_at(utc(2024, 11, 3, 6)) == 0);
    CHECK(s.next_change_after(utc(2024, 11, 3, 6)) == utc(2024, 11, 3, 6, 30));  // 01:30 EST
    CHECK(s.min_warm_at(utc(2024, 11, 3, 6, 30)) == 5);
    CHECK(s.next_change_after(utc(2024, 11, 3, 6, 30)) == utc(2024, 11, 3, 7));  // 02:00 EST
  }
  SUBCASE("an offset change that keeps the value is not a change") {
    const auto s = Schedule::local().between("01:00", "02:00", 5);
    CHECK(s.min_warm_at(utc(2024, 11, 3, 5)) == 5);  // 01:00 EDT
    CHECK(s.min_warm_at(utc(2024, 11, 3, 6)) == 5);  // 01:00 EST
    CHECK(s.next_change_after(utc(2024, 11, 3, 5)) == utc(2024, 11, 3, 7));
  }
}

TEST_CASE("schedule: next_change_after agrees with brute force around DST changes") {
  struct Case {
    const char* zone;
    TimePoint start;  // two days before the change; four days are checked
  };
  const Case cases[] = {
      {"America/New_York", utc(2024, 3, 8, 0)},
      {"America/New_York", utc(2024, 11, 1, 0)},
      {"Australia/Lord_Howe", utc(2024, 4, 4, 12)},  // 30-minute DST shifts
      {"Australia/Lord_Howe", utc(2024, 10, 3, 12)},
  };
  for (const Case& c : cases) {
    if (!have_zone(c.zone)) {
      MESSAGE("skipped: no tzdata for " << c.zone << " in /usr/share/zoneinfo");
      continue;
    }
    const ScopedTimeZone zone(c.zone);
    REQUIRE(utc_offset(c.start) != utc_offset(c.start + 24h * 4));  // the zone was loaded
    const auto schedules = varied_schedules(&Schedule::local);
    for (std::size_t i = 0; i < schedules.size(); ++i) {
      CAPTURE(c.zone);
      CAPTURE(i);
      CHECK(disagreement_with_brute_force(schedules[i], c.start, 24h * 4) == "");
    }
  }
}

TEST_CASE("schedule: two offset changes between two boundaries are not missed") {
  // A POSIX rule (no tzdata needed): one hour ahead from 2023-04-10 02:00 (Monday) to
  // 2023-04-12 02:00 (Wednesday), when the clock goes back to 01:00.
  const ScopedTimeZone zone("AAA0BBB,J100/2,J102/2");
  REQUIRE(utc_offset(utc(2023, 4, 11, 0)) == 3600);
  const auto s = Schedule::local().between("01:10", "01:40", 5, {std::chrono::Wednesday});
  // 01:10 is reached first at 01:10 BBB (00:10Z), then again at 01:10 AAA (01:10Z).
  CHECK(s.next_change_after(utc(2023, 4, 9, 12)) == utc(2023, 4, 12, 0, 10));
  CHECK(disagreement_with_brute_force(s, utc(2023, 4, 8, 0), 24h * 7) == "");
}

TEST_CASE("schedule: bad windows throw std::invalid_argument naming the field and range") {
  using std::chrono::seconds;
  const std::string format =
      "\") must be \"HH:MM\" or \"HH:MM:SS\" with minutes and seconds in [00, 59]";
  auto s = Schedule::utc().between("06:00", "18:00", 3);
  CHECK_THROWS_WITH_AS(s.between("25:00", "18:00", 1),
                       "schedule window start (25:00) must be in [00:00, 24:00)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(s.between("24:00", "18:00", 1),
                       "schedule window start (24:00) must be in [00:00, 24:00)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(s.between("06:00", "24:30", 1),
                       "schedule window end (24:30) must be in [00:00, 24:00]",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(s.between("06:00", "06:00", 1),
                       "schedule window end (06:00) must differ from its start; use 00:00 to "
                       "24:00 for a whole day",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(s.between(-1h, 2h, 1),
                       "schedule window start (-01:00) must be in [00:00, 24:00)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(s.between(1h, 24h + 1s, 1),
                       "schedule window end (24:00:01) must be in [00:00, 24:00]",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(s.between("6am", "18:00", 1),
                       ("schedule window start (\"6am" + format).c_str(), std::invalid_argument);
  for (const char* bad : {"", "06", "06:60", "06:00:60", "6:0", "006:00", "-1:00",
                          "06:00:", "06:00:00:00", "0a:00", " 06:00"}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(s.between("06:00", bad, 1),
                         ("schedule window end (\"" + std::string(bad) + format).c_str(),
                         std::invalid_argument);
  }
  CHECK_THROWS_WITH_AS(Days{}, "schedule window days must name at least one day",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS((Days{std::chrono::Monday, std::chrono::weekday{9}}),
                       "schedule window day (9) must be in [0, 6] (Sunday = 0)",
                       std::invalid_argument);
  // A rejected window leaves the schedule as it was.
  CHECK(s.min_warm_at(utc(2024, 3, 4, 12)) == 3);
  CHECK(s.min_warm_at(utc(2024, 3, 4, 20)) == 0);
  CHECK(s.next_change_after(utc(2024, 3, 4, 12)) == utc(2024, 3, 4, 18));
}

TEST_CASE("schedule: a manual keep_warm holds until the next scheduled boundary") {
  const auto schedule = Schedule::utc().between("06:00", "18:00", 3).otherwise(0);
  warmpool::detail::ScheduledFloor floor(schedule);
  CHECK(floor.min_warm_at(utc(2024, 3, 4, 10)) == 3);

  SUBCASE("set inside a window: until the window ends") {
    floor.set_manual(5, utc(2024, 3, 4, 10));
    CHECK(floor.min_warm_at(utc(2024, 3, 4, 10)) == 5);
    CHECK(floor.min_warm_at(utc(2024, 3, 4, 17, 59, 59)) == 5);
    CHECK(floor.next_change_after(utc(2024, 3, 4, 10)) == utc(2024, 3, 4, 18));
    CHECK(floor.min_warm_at(utc(2024, 3, 4, 18)) == 0);
    CHECK(floor.next_change_after(utc(2024, 3, 4, 18)) == utc(2024, 3, 5, 6));
    CHECK(floor.min_warm_at(utc(2024, 3, 5, 6)) == 3);
  }
  SUBCASE("set outside every window: until the next window starts") {
    floor.set_manual(1, utc(2024, 3, 4, 20));
    CHECK(floor.min_warm_at(utc(2024, 3, 5, 5, 59, 59)) == 1);
    CHECK(floor.min_warm_at(utc(2024, 3, 5, 6)) == 3);
  }
  SUBCASE("set exactly on a boundary: until the following one") {
    floor.set_manual(7, utc(2024, 3, 4, 6));
    CHECK(floor.min_warm_at(utc(2024, 3, 4, 6)) == 7);
    CHECK(floor.next_change_after(utc(2024, 3, 4, 6)) == utc(2024, 3, 4, 18));
  }
  SUBCASE("a newer manual value replaces the older one and its end") {
    floor.set_manual(5, utc(2024, 3, 4, 10));
    floor.set_manual(2, utc(2024, 3, 4, 19));
    CHECK(floor.min_warm_at(utc(2024, 3, 4, 19)) == 2);
    CHECK(floor.min_warm_at(utc(2024, 3, 5, 5)) == 2);
    CHECK(floor.min_warm_at(utc(2024, 3, 5, 6)) == 3);
  }
  SUBCASE("with a constant schedule the manual value holds for ever") {
    warmpool::detail::ScheduledFloor constant(Schedule::utc().otherwise(1));
    constant.set_manual(4, utc(2024, 3, 4, 10));
    CHECK(constant.min_warm_at(utc(2030, 1, 1, 0)) == 4);
    CHECK_FALSE(constant.next_change_after(utc(2024, 3, 4, 10)).has_value());
  }
}

TEST_CASE("schedule: a fake WallClock makes time of day deterministic") {
  static_assert(std::is_same_v<warmpool::WallClock, std::function<TimePoint()>>);
  TimePoint fake = utc(2024, 3, 4, 5, 59);
  const warmpool::WallClock wall_clock = [&] { return fake; };
  const auto s = Schedule::utc().between("06:00", "18:00", 3);
  CHECK(s.min_warm_at(wall_clock()) == 0);
  fake = *s.next_change_after(wall_clock());
  CHECK(s.min_warm_at(wall_clock()) == 3);
}
