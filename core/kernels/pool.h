#pragma once
// Internal: the persistent thread pool of the kernel room. Workers start once and wait between
// calls (spinning briefly, then sleeping), so a decode step's hundred-odd linear maps cost no
// thread start each. Work is handed out in chunks that threads claim as they arrive: a worker
// the OS has not scheduled yet (a busy machine) costs nothing, the others take its share.
#include <cstdint>
#include <functional>

namespace qcw::kernels {

// Runs fn(c) for every chunk c in [0, chunks) on the pool and the calling thread; returns when
// all are done. A call made while another thread holds the pool (two engines generating at
// once) runs every chunk on its own thread instead of waiting.
void parallelChunks(std::int64_t chunks, const std::function<void(std::int64_t)>& fn);

}  // namespace qcw::kernels
