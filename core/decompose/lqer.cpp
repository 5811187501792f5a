#include "decompose/lqer.h"

#include "common/error.h"
#include "decompose/decompose.h"

namespace qcw {

at::Tensor QuantizedFactors::approx() const { return at::matmul(left.dequantize(), right.dequantize()); }

at::Tensor LqerResult::approx() const { return base.dequantize() + correction.approx(); }

LowRankBasis lowRankBasis(const at::Tensor& w, const at::Tensor& xtx, int maxRank) {
    const int r = std::max(1, std::min<int>(maxRank, static_cast<int>(std::min(w.size(0), w.size(1)))));
    at::Tensor wd = w.to(at::kCPU, at::kDouble);
    LowRankResult lr = xtx.defined() ? whitenedSvd(wd, xtx.to(at::kDouble), TruncateOptions().rank(r))
                                     : truncatedSvd(wd, TruncateOptions().rank(r));
    return {lr.left.to(at::kDouble), lr.right.to(at::kDouble)};
}

QuantizedFactors quantizeFactors(const LowRankBasis& basis, int rank, const at::Tensor& xtx, kernels::Format format) {
    if (rank < 1 || rank > basis.right.size(0))
        fail("low-rank factors", "rank " + std::to_string(rank) + " is outside [1, " + std::to_string(basis.right.size(0)) + "]");
    at::Tensor l = basis.left.slice(1, 0, rank).contiguous(), r = basis.right.slice(0, 0, rank).contiguous();
    QuantizedFactors q;
    if (!xtx.defined()) {
        q.right = quantizeRtn(r, format);
        q.left = quantizeRtn(l, format);
        return q;
    }
    at::Tensor h = xtx.to(at::kDouble);
    q.right = quantizeGptq(r, h, format);
    at::Tensor rq = q.right.dequantize().to(at::kDouble);
    // The left factor's inputs are R' x: its Gram matrix is R' H R'^T, and its target is the
    // map that best reproduces W given R' (W H R'^T (R' H R'^T)^-1), so R's rounding is fed forward.
    at::Tensor hl = at::matmul(at::matmul(rq, h), rq.t());
    const double damp = 1e-8 * hl.diagonal().mean().item<double>() + 1e-30;
    at::Tensor hli = hl + damp * at::eye(hl.size(0), hl.options());
    at::Tensor target = at::matmul(at::matmul(l, r), at::matmul(h, rq.t()));  // [m, rank]
    at::Tensor lt = at::linalg_solve(hli, target.t()).t();
    if (!at::isfinite(lt).all().item<bool>()) lt = l;
    q.left = quantizeGptq(lt, hl, format);
    return q;
}

LqerResult lqerFromBase(const at::Tensor& w, const at::Tensor& xtx, const BlockMatrix& base, int rank,
                        kernels::Format factorFormat) {
    at::Tensor e = w.to(at::kCPU, at::kDouble) - base.dequantize().to(at::kDouble);
    LqerResult out;
    out.base = base;
    out.correction = quantizeFactors(lowRankBasis(e, xtx, rank), rank, xtx, factorFormat);
    return out;
}

LqerResult lqer(const at::Tensor& w, const at::Tensor& xtx, kernels::Format baseFormat, int rank,
                kernels::Format factorFormat) {
    return lqerFromBase(w, xtx, quantizeGptq(w, xtx, baseFormat), rank, factorFormat);
}

}  // namespace qcw
