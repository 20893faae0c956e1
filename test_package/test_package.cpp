// Conan test package: the installed headers compile, and a pool boots a worker and runs
// an input on it.
#include <warmpool/warmpool.hpp>

#include <cstdio>

struct Worker {
  int add_one(int x) const { return x + 1; }
};

int main() {
  warmpool::Pool<Worker> pool;
  const int result = pool.submit([](Worker& w) { return w.add_one(41); }).get();
  std::printf("warmpool test_package: %d, boots = %llu\n", result,
              static_cast<unsigned long long>(pool.stats().boots));
  return result == 42 && pool.stats().boots == 1 ? 0 : 1;
}
