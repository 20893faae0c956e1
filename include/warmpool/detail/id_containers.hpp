#pragma once
// Internals: containers keyed by 64-bit ids that allocate at most once per 64 elements,
// for the warm path (every input passes through them under the pool's lock).

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

namespace warmpool::detail {

/// A hash map from 64-bit keys to `V`: open addressing with linear probing and
/// backward-shift deletion, so no tombstones and no allocation except when it grows.
/// Its hash scatters consecutive keys (long runs would make deletion slow). `V` must be
/// default-constructible and movable. References are invalidated by `emplace` and `take`.
template <class V>
class HashMap {
 public:
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  bool contains(std::uint64_t key) const noexcept { return find(key) != nullptr; }

  V* find(std::uint64_t key) noexcept { return const_cast<V*>(std::as_const(*this).find(key)); }

  const V* find(std::uint64_t key) const noexcept {
    if (slots_.empty()) return nullptr;
    for (std::size_t i = home(key);; i = next(i)) {
      const Slot& slot = slots_[i];
      if (!slot.used) return nullptr;
      if (slot.key == key) return &slot.value;
    }
  }

  /// Adds `key` (which must be absent).
  V& emplace(std::uint64_t key, V value) {
    if (2 * (size_ + 1) > slots_.size()) grow();
    std::size_t i = home(key);
    while (slots_[i].used) i = next(i);
    slots_[i] = Slot{true, key, std::move(value)};
    ++size_;
    return slots_[i].value;
  }

  /// Removes `key` (which must be present) and returns its value.
  V take(std::uint64_t key) {
    std::size_t hole = home(key);
    while (slots_[hole].key != key || !slots_[hole].used) hole = next(hole);
    V value = std::move(slots_[hole].value);
    // Shift later entries of the probe chain back into the hole.
    for (std::size_t j = next(hole); slots_[j].used; j = next(j)) {
      const std::size_t wanted = home(slots_[j].key);
      if (distance(wanted, j) >= distance(hole, j)) {
        slots_[hole] = std::move(slots_[j]);
        hole = j;
      }
    }
    slots_[hole] = Slot{};
    --size_;
    return value;
  }

  /// Calls `f(key, value)` for every entry (which `f` must not add or remove).
  template <class F>
  void for_each(F&& f) {
    for (Slot& slot : slots_) {
      if (slot.used) f(slot.key, slot.value);
    }
  }

 private:
  struct Slot {
    bool used = false;
    std::uint64_t key = 0;
    V value{};
  };

  std::size_t home(std::uint64_t key) const noexcept {
    return static_cast<std::size_t>((key * 0x9e3779b97f4a7c15ULL) >> shift_);
  }
  std::size_t next(std::size_t i) const noexcept { return (i + 1) & (slots_.size() - 1); }
  std::size_t distance(std::size_t from, std::size_t to) const noexcept {
    return (to - from) & (slots_.size() - 1);
  }

  void grow() {
    std::vector<Slot> old(std::max<std::size_t>(16, 2 * slots_.size()));
    old.swap(slots_);
    shift_ = 64U - static_cast<unsigned>(std::countr_zero(slots_.size()));
    size_ = 0;
    for (Slot& slot : old) {
      if (slot.used) emplace(slot.key, std::move(slot.value));
    }
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
  unsigned shift_ = 64;
};

/// A map from 64-bit ids to `V` for ids handed out in order, like inputs': pages of 64
/// consecutive ids, found through a small `HashMap` of pages, so the ids in use (however
/// many) are reached directly, near one another in memory; an emptied page is kept for
/// the next new one. Any ids work; ids far apart cost a page each. `V` must be
/// default-constructible and movable. References stay valid until their entry is taken.
template <class V>
class IdMap {
 public:
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  bool contains(std::uint64_t key) const noexcept { return find(key) != nullptr; }

  V* find(std::uint64_t key) noexcept { return const_cast<V*>(std::as_const(*this).find(key)); }

  const V* find(std::uint64_t key) const noexcept {
    const std::unique_ptr<Page>* page = pages_.find(key / page_size);
    if (page == nullptr || !(*page)->holds(key % page_size)) return nullptr;
    return &(*page)->values[key % page_size];
  }

  /// Adds `key` (which must be absent) with `value` (taken by reference: a large `V` is
  /// copied once, straight into its place).
  template <class U>
  V& emplace(std::uint64_t key, U&& value) {
    std::unique_ptr<Page>* page = pages_.find(key / page_size);
    if (page == nullptr) page = &pages_.emplace(key / page_size, new_page());
    Page& p = **page;
    p.values[key % page_size] = std::forward<U>(value);
    p.used |= bit(key % page_size);
    ++size_;
    return p.values[key % page_size];
  }

  /// Removes `key` (which must be present) and returns its value.
  V take(std::uint64_t key) {
    Page& page = **pages_.find(key / page_size);
    V& slot = page.values[key % page_size];
    V value = std::move(slot);
    if constexpr (!std::is_trivially_destructible_v<V>) slot = V{};  // holds nothing now
    page.used &= ~bit(key % page_size);
    --size_;
    if (page.used == 0) spare_ = pages_.take(key / page_size);  // its values own nothing
    return value;
  }

  /// Calls `f(key, value)` for every entry (which `f` must not add or remove).
  template <class F>
  void for_each(F&& f) {
    pages_.for_each([&f](std::uint64_t page_number, std::unique_ptr<Page>& page) {
      for (std::uint64_t i = 0; i < page_size; ++i) {
        if (page->holds(i)) f(page_number * page_size + i, page->values[i]);
      }
    });
  }

 private:
  static constexpr std::uint64_t page_size = 64;  // one bit each in `Page::used`

  static std::uint64_t bit(std::uint64_t index) noexcept { return std::uint64_t{1} << index; }

  struct Page {
    bool holds(std::uint64_t index) const noexcept { return (used & bit(index)) != 0; }
    std::uint64_t used = 0;
    std::array<V, page_size> values{};
  };

  /// An empty page: the spare if there is one (ids move on a page at a time, so the page
  /// just emptied is reused instead of freed and allocated again).
  std::unique_ptr<Page> new_page() { return spare_ ? std::move(spare_) : std::make_unique<Page>(); }

  HashMap<std::unique_ptr<Page>> pages_;  // by id / page_size
  std::unique_ptr<Page> spare_;           // the last page emptied, kept for reuse
  std::size_t size_ = 0;
};

/// A FIFO queue of `T` (which has an `id` member) that can also push at the front and
/// remove any element by id; a ring buffer plus an index, so no allocation per element.
template <class T>
class IdQueue {
 public:
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  bool contains(std::uint64_t id) const noexcept { return where_.contains(id); }
  /// Cells allocated (holes included).
  std::size_t capacity() const noexcept { return ring_.size(); }

  /// The oldest element (the queue must not be empty).
  const T& front() const noexcept { return *ring_[slot(head_)]; }

  void push_back(T value) {
    make_room();
    const std::uint64_t seq = head_ + span_;
    where_.emplace(value.id, seq);
    ring_[slot(seq)] = std::move(value);
    ++span_;
    ++size_;
  }

  void push_front(T value) {
    make_room();
    --head_;
    where_.emplace(value.id, head_);
    ring_[slot(head_)] = std::move(value);
    ++span_;
    ++size_;
  }

  /// Removes the element `id` (which must be present) and returns it.
  T take(std::uint64_t id) {
    const std::uint64_t seq = where_.take(id);
    std::optional<T>& cell = ring_[slot(seq)];
    T value = std::move(*cell);
    cell.reset();
    --size_;
    while (span_ > 0 && !ring_[slot(head_)]) {  // drop holes at either end
      ++head_;
      --span_;
    }
    while (span_ > 0 && !ring_[slot(head_ + span_ - 1)]) --span_;
    if (span_ > 2 * size_ + 32) compact();  // mostly holes: an old input holds the front
    return value;
  }

 private:
  std::size_t slot(std::uint64_t seq) const noexcept {
    return static_cast<std::size_t>(seq) & (ring_.size() - 1);
  }

  /// Moves the elements together (in order), so holes do not pile up behind the front.
  void compact() {
    std::uint64_t to = head_;  // sequence numbers wrap (push_front below 0): count offsets
    for (std::size_t offset = 0; offset < span_; ++offset) {
      const std::uint64_t from = head_ + offset;
      std::optional<T>& cell = ring_[slot(from)];
      if (!cell) continue;
      if (from != to) {
        *where_.find(cell->id) = to;
        ring_[slot(to)].swap(cell);  // the target cell is empty: `to` trails `from`
      }
      ++to;
    }
    span_ = size_;
  }

  /// Grows the ring when full; holes left by `take` in the middle count as used.
  void make_room() {
    if (span_ < ring_.size()) return;
    std::vector<std::optional<T>> bigger(std::max<std::size_t>(16, 2 * ring_.size()));
    for (std::uint64_t i = 0; i < span_; ++i) {
      bigger[static_cast<std::size_t>(head_ + i) & (bigger.size() - 1)] =
          std::move(ring_[slot(head_ + i)]);
    }
    ring_.swap(bigger);
  }

  std::vector<std::optional<T>> ring_;
  std::uint64_t head_ = 0;  // sequence number of the first cell in use
  std::size_t span_ = 0;    // cells from head_ to the last element, holes included
  std::size_t size_ = 0;
  IdMap<std::uint64_t> where_;  // id -> sequence number
};

}  // namespace warmpool::detail
