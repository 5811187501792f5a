#pragma once
// Internal: the persistent thread pool of the kernel room. Workers start once and wait
// between calls (spinning briefly, then sleeping), so a decode step's hundred-odd linear maps
// cost no thread start each.
#include <functional>

namespace qcw::kernels {

// Runs fn(t, n) for t = 0 .. n-1 on n threads, t = 0 on the caller; returns when all are done.
// A call made while another thread holds the pool (two engines generating at once) runs
// fn(0, 1) on its own thread instead of waiting.
void parallelRun(const std::function<void(int, int)>& fn);

}  // namespace qcw::kernels
