// cuda_support.h for a CUDA build of LibTorch (QCW_CUDA=ON; LibTorch 2.x).
#include "model/cuda_support.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <optional>

namespace qcw::cuda {

bool available() { return at::hasCUDA(); }

namespace {
class CudaGraph final : public Graph {
public:
    at::cuda::CUDAGraph graph;
    void replay() override { graph.replay(); }
};
}  // namespace

std::unique_ptr<Graph> capture(const std::function<void()>& step, std::string* whyNot) {
    auto g = std::make_unique<CudaGraph>();
    bool begun = false;
    try {
        g->graph.capture_begin();
        begun = true;
        step();
        begun = false;
        g->graph.capture_end();
        return g;
    } catch (const std::exception& e) {
        if (whyNot) *whyNot = e.what();
        if (begun) {
            try {
                g->graph.capture_end();
            } catch (...) {
            }
        }
        return nullptr;
    }
}

struct SideStream::Impl {
    int device = 0;
    std::optional<c10::cuda::CUDAStreamGuard> guard;
};

SideStream::SideStream(int device, bool enabled) {
    if (!enabled || !available()) return;
    d_ = std::make_unique<Impl>();
    d_->device = device;
    const auto idx = static_cast<c10::DeviceIndex>(device);
    // The side stream starts after everything already queued on the default stream.
    c10::cuda::getDefaultCUDAStream(idx).synchronize();
    d_->guard.emplace(c10::cuda::getStreamFromPool(false, idx));
}

SideStream::~SideStream() {
    if (!d_) return;
    try {
        c10::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(d_->device)).synchronize();
    } catch (...) {
    }
}

Autocast::Autocast(bool enabled, bool bfloat16) {
    if (!enabled) return;
    on_ = true;
    prevEnabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
    prevDtype_ = static_cast<int>(at::autocast::get_autocast_dtype(at::kCUDA));
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::set_autocast_dtype(at::kCUDA, bfloat16 ? at::kBFloat16 : at::kHalf);
    at::autocast::increment_nesting();
}

Autocast::~Autocast() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(at::kCUDA, prevEnabled_);
    at::autocast::set_autocast_dtype(at::kCUDA, static_cast<at::ScalarType>(prevDtype_));
}

std::int64_t peakAllocatedBytes(int device) {
    if (!available()) return 0;
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device));
    return stats.allocated_bytes[0].peak;  // 0: the aggregate over small and large pools
}

void resetPeakAllocated(int device) {
    if (available()) c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(device));
}

void synchronize(int device) {
    if (!available()) return;
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device));
    c10::cuda::device_synchronize();
}

}  // namespace qcw::cuda
