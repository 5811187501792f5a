// cuda_support.h for a LibTorch without CUDA (QCW_CUDA=OFF).
#include "model/cuda_support.h"

namespace qcw::cuda {

bool available() { return false; }

std::unique_ptr<Graph> capture(const std::function<void()>&, std::string* whyNot) {
    if (whyNot) *whyNot = "this build has no CUDA support (configure with -DQCW_CUDA=ON against a CUDA LibTorch)";
    return nullptr;
}

struct SideStream::Impl {};
SideStream::SideStream(int, bool) {}
SideStream::~SideStream() = default;

Autocast::Autocast(bool, bool) {}
Autocast::~Autocast() = default;

std::int64_t peakAllocatedBytes(int) { return 0; }
void resetPeakAllocated(int) {}
void synchronize(int) {}

}  // namespace qcw::cuda
