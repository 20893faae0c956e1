// The containers of the warm path (detail::HashMap, detail::IdMap, detail::IdQueue),
// checked against std::unordered_map and std::deque under random operations.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <warmpool/detail/id_containers.hpp>

namespace {

using warmpool::detail::HashMap;
using warmpool::detail::IdMap;
using warmpool::detail::IdQueue;

struct Item {
  std::uint64_t id = 0;
  std::string payload;
};

}  // namespace

TEST_CASE_TEMPLATE("IdMap and HashMap: find, add and take like std::unordered_map", Map,
                   IdMap<std::string>, HashMap<std::string>) {
  Map map;
  std::unordered_map<std::uint64_t, std::string> model;
  std::mt19937_64 random(7);
  for (int step = 0; step < 200'000; ++step) {
    // Keys from a small range collide in the probe chains; some are sequential like ids.
    const std::uint64_t key = step % 3 == 0 ? random() % 64 : random() % 5'000;
    if (model.contains(key)) {
      REQUIRE(map.contains(key));
      REQUIRE(*map.find(key) == model[key]);
      if (random() % 2 == 0) {
        CHECK(map.take(key) == model[key]);
        model.erase(key);
      }
    } else {
      REQUIRE(map.find(key) == nullptr);
      map.emplace(key, std::to_string(key * 3));
      model.emplace(key, std::to_string(key * 3));
    }
    REQUIRE(map.size() == model.size());
  }
  std::size_t visited = 0;
  map.for_each([&](std::uint64_t key, std::string& value) {
    ++visited;
    CHECK(model.at(key) == value);
  });
  CHECK(visited == model.size());
}

TEST_CASE("IdMap: a sliding window of sequential ids, and keys strided by powers of two") {
  IdMap<std::uint64_t> map;
  std::unordered_map<std::uint64_t, std::uint64_t> model;
  const auto check_all = [&] {
    REQUIRE(map.size() == model.size());
    for (const auto& [key, value] : model) REQUIRE(*map.find(key) == value);
  };
  // Inputs' ids: added in order, mostly taken in order, a few stay behind for long.
  for (std::uint64_t id = 1; id <= 50'000; ++id) {
    map.emplace(id, id * 2);
    model.emplace(id, id * 2);
    if (id > 1'000 && (id - 1'000) % 97 != 0) {
      CHECK(map.take(id - 1'000) == (id - 1'000) * 2);
      model.erase(id - 1'000);
    }
  }
  check_all();
  // Keys that share their low bits still work (above the ids, so no key repeats).
  for (const std::uint64_t stride : {std::uint64_t{1} << 10, std::uint64_t{1} << 32}) {
    const auto key = [stride](std::uint64_t i) { return (std::uint64_t{1} << 48) + i * stride; };
    for (std::uint64_t i = 1; i <= 2'000; ++i) {
      map.emplace(key(i), i);
      model.emplace(key(i), i);
    }
    check_all();
    for (std::uint64_t i = 2; i <= 2'000; i += 2) {
      CHECK(map.take(key(i)) == i);
      model.erase(key(i));
    }
    check_all();
  }
}

TEST_CASE("IdMap: key 0 and the largest key are ordinary keys") {
  IdMap<int> map;
  map.emplace(0, 1);
  map.emplace(~std::uint64_t{0}, 2);
  CHECK(*map.find(0) == 1);
  CHECK(map.take(~std::uint64_t{0}) == 2);
  CHECK(map.size() == 1);
  CHECK_FALSE(map.contains(~std::uint64_t{0}));
}

TEST_CASE("IdQueue: a FIFO with pushes at the front and removal by id") {
  IdQueue<Item> queue;
  std::deque<Item> model;
  std::mt19937_64 random(11);
  std::uint64_t next_id = 1;
  for (int step = 0; step < 100'000; ++step) {
    const auto choice = random() % 10;
    if (choice < 4 || model.empty()) {
      Item item{next_id, std::to_string(next_id)};
      ++next_id;
      if (choice == 0) {
        queue.push_front(item);
        model.push_front(item);
      } else {
        queue.push_back(item);
        model.push_back(item);
      }
    } else if (choice < 7) {
      const std::uint64_t id = model.front().id;
      CHECK(queue.take(id).payload == model.front().payload);
      model.pop_front();
    } else {
      const auto at = model.begin() + static_cast<std::ptrdiff_t>(random() % model.size());
      CHECK(queue.take(at->id).id == at->id);
      model.erase(at);
    }
    REQUIRE(queue.size() == model.size());
    if (!model.empty()) REQUIRE(queue.front().id == model.front().id);
  }
  for (const Item& item : model) CHECK(queue.contains(item.id));
  CHECK_FALSE(queue.contains(next_id));
}

TEST_CASE("IdQueue: holes behind an old front element are compacted away") {
  IdQueue<Item> queue;
  queue.push_back({1, "old"});
  queue.push_back({2, "latest"});
  for (std::uint64_t id = 3; id < 100'000; id += 2) {
    queue.push_back({id, "churn"});
    queue.push_back({id + 1, "latest"});
    CHECK(queue.take(id - 1).id == id - 1);  // holes in the middle, never at the ends
    CHECK(queue.take(id).id == id);
  }
  CHECK(queue.size() == 2);
  CHECK(queue.capacity() <= 128);  // not one cell per input that passed through
  CHECK(queue.take(1).payload == "old");
  CHECK(queue.front().payload == "latest");
}

TEST_CASE("IdQueue: compaction works when the front was pushed below sequence 0") {
  IdQueue<Item> queue;
  queue.push_front({1, "1"});  // the head's sequence number wraps below 0
  for (std::uint64_t id = 2; id < 60; ++id) queue.push_back({id, std::to_string(id)});
  for (std::uint64_t id = 2; id < 58; ++id) CHECK(queue.take(id).id == id);  // compacts
  for (std::uint64_t id = 200; id < 300; ++id) queue.push_back({id, std::to_string(id)});
  std::vector<std::uint64_t> order;
  while (!queue.empty()) {
    const Item& front = queue.front();
    CHECK(front.payload == std::to_string(front.id));
    order.push_back(queue.take(front.id).id);
  }
  std::vector<std::uint64_t> expected{1, 58, 59};
  for (std::uint64_t id = 200; id < 300; ++id) expected.push_back(id);
  CHECK(order == expected);
}
