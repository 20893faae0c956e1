// The program every consumer test builds: it uses warmpool the way an application does.
// Exit status 0 means the package works: one boot, one input, the right result.
#include <warmpool/version.hpp>
#include <warmpool/warmpool.hpp>

#include <cstdio>

namespace {

struct Doubler {
  void enter() { ready = true; }  // the enter hook runs before the first input
  int twice(int x) const { return ready ? 2 * x : -1; }
  bool ready = false;
};

}  // namespace

int main() {
  warmpool::Pool<Doubler> pool;
  const int result = pool.submit([](Doubler& d) { return d.twice(21); }).get();
  const warmpool::Stats stats = pool.stats();
  std::printf("warmpool %s: twice(21) = %d, boots = %llu\n", WARMPOOL_VERSION_STRING, result,
              static_cast<unsigned long long>(stats.boots));
  if (result != 42 || stats.boots != 1) {
    std::fprintf(stderr, "consumer: FAILED (expected 42 and 1 boot)\n");
    return 1;
  }
  return 0;
}
