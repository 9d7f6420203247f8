#pragma once
// TBB loops that ThreadSanitizer can follow. Debian's libtbb is not instrumented, so TSan does not
// see that a loop's iterations start after the caller's writes and end before the caller goes on;
// handoff_acquire/handoff_release state those edges (they compile to nothing outside TSan builds),
// and parallel_for wraps tbb::parallel_for with them.
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <cstdint>

#if defined(__SANITIZE_THREAD__)
#define LUOJIA_TSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LUOJIA_TSAN_BUILD 1
#endif
#endif

#ifdef LUOJIA_TSAN_BUILD
extern "C" void __tsan_acquire(void* address);
extern "C" void __tsan_release(void* address);
#endif

namespace luojia::detail {

#ifdef LUOJIA_TSAN_BUILD
inline void handoff_acquire(const void* address) { __tsan_acquire(const_cast<void*>(address)); }
inline void handoff_release(const void* address) { __tsan_release(const_cast<void*>(address)); }
#else
inline void handoff_acquire(const void*) {}
inline void handoff_release(const void*) {}
#endif

// Releases on every way out of a scope (exceptions included).
struct ReleaseOnExit {
  const void* address;
  ~ReleaseOnExit() { handoff_release(address); }
};

// tbb::parallel_for(first, last, step, body) with the caller-to-iterations and
// iterations-to-caller edges stated for TSan.
template <class Body>
void parallel_for(std::int64_t first, std::int64_t last, std::int64_t step, const Body& body) {
  const char start = 0, done = 0;  // only their addresses are used
  const auto iteration = [&](std::int64_t i) {
    handoff_acquire(&start);
    const ReleaseOnExit finished{&done};
    body(i);
  };
  handoff_release(&start);
  try {
    tbb::parallel_for(first, last, step, iteration);
  } catch (...) {
    handoff_acquire(&done);
    throw;
  }
  handoff_acquire(&done);
}

// Threads the current arena runs (a Session's thread count inside a run).
inline int max_threads() { return tbb::this_task_arena::max_concurrency(); }

template <class Body>
void parallel_for(std::int64_t first, std::int64_t last, const Body& body) {
  parallel_for(first, last, std::int64_t{1}, body);
}

}  // namespace luojia::detail
