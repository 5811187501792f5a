#pragma once
// What core needs from CUDA beyond ATen's device-generic API: CUDA graphs, side streams,
// autocast and the caching allocator's peak. Torch-free header; without a CUDA build of
// LibTorch (QCW_CUDA=OFF, the default) every function says so and does nothing.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace qcw::cuda {

// True when core was built with QCW_CUDA=ON (a CUDA LibTorch) and a device is present.
bool available();

// A recorded sequence of kernels, replayed with the same buffers.
class Graph {
public:
    virtual ~Graph() = default;
    virtual void replay() = 0;
};

// Records `step` as a CUDA graph on the current (non-default) stream. The step is recorded,
// not run: replay() runs it. Returns nullptr and says why in `whyNot` when recording fails
// (or without CUDA).
std::unique_ptr<Graph> capture(const std::function<void()>& step, std::string* whyNot);

// Makes a side stream of `device` current for the scope (CUDA graphs cannot be recorded on
// the default stream); waits for it on exit. Does nothing when `enabled` is false.
class SideStream {
public:
    SideStream(int device, bool enabled);
    ~SideStream();
    SideStream(const SideStream&) = delete;
    SideStream& operator=(const SideStream&) = delete;

private:
    struct Impl;
    std::unique_ptr<Impl> d_;
};

// bf16 (or fp16) autocast on CUDA for the scope, as torch.autocast("cuda", dtype) does.
class Autocast {
public:
    Autocast(bool enabled, bool bfloat16 = true);
    ~Autocast();
    Autocast(const Autocast&) = delete;
    Autocast& operator=(const Autocast&) = delete;

private:
    bool on_ = false, prevEnabled_ = false;
    int prevDtype_ = 0;
};

// The caching allocator's peak of allocated bytes on `device` since the last reset (0 without CUDA).
std::int64_t peakAllocatedBytes(int device);
void resetPeakAllocated(int device);
void synchronize(int device);

}  // namespace qcw::cuda
