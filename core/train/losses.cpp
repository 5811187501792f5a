// The losses of training (AdamW and the schedule live in train/optimizer.cpp).
#include "train/train.h"

#include "common/error.h"

#include <ATen/core/grad_mode.h>

#include <cmath>

namespace qcw {

at::Tensor causalLmLoss(const at::Tensor& logits, const at::Tensor& ids) {
    const auto V = logits.size(-1);
    at::Tensor pred = logits.narrow(1, 0, logits.size(1) - 1).reshape({-1, V});
    at::Tensor target = ids.narrow(1, 1, ids.size(1) - 1).reshape({-1}).to(logits.device(), at::kLong);
    return at::cross_entropy_loss(pred, target);
}

at::Tensor distillationLoss(const at::Tensor& s, const at::Tensor& t, const at::Tensor& ids, double temperature,
                            double alpha) {
    if (temperature <= 0) fail("--temperature " + std::to_string(temperature), "must be positive");
    if (alpha < 0 || alpha > 1) fail("--alpha " + std::to_string(alpha), "must be in [0, 1]");
    if (s.sizes() != t.sizes()) fail("distillation", "student and teacher logits differ in shape (vocabularies differ?)");
    const auto V = s.size(-1);
    at::Tensor sl = s.narrow(1, 0, s.size(1) - 1).reshape({-1, V});
    at::Tensor tl = t.narrow(1, 0, t.size(1) - 1).reshape({-1, V}).to(sl.device(), sl.scalar_type());
    at::Tensor logPs = at::log_softmax(sl / temperature, -1);
    at::Tensor logPt = at::log_softmax(tl / temperature, -1);
    at::Tensor kl = (logPt.exp() * (logPt - logPs)).sum(-1).mean();
    at::Tensor loss = kl * (alpha * temperature * temperature);
    if (alpha < 1.0) loss = loss + causalLmLoss(s, ids) * (1.0 - alpha);
    return loss;
}

at::Tensor topKDistillationLoss(const at::Tensor& s, const at::Tensor& values, const at::Tensor& indices,
                                const at::Tensor& ids, double temperature, double alpha) {
    if (temperature <= 0) fail("--temperature " + std::to_string(temperature), "must be positive");
    if (alpha < 0 || alpha > 1) fail("--alpha " + std::to_string(alpha), "must be in [0, 1]");
    if (values.dim() != 3 || values.sizes() != indices.sizes() || values.size(0) != s.size(0) || values.size(1) != s.size(1))
        fail("distillation", "the cached teacher top-k does not match the batch's shape");
    const auto V = s.size(-1), k = values.size(2);
    at::Tensor sl = s.narrow(1, 0, s.size(1) - 1).reshape({-1, V});
    at::Tensor tv = values.narrow(1, 0, values.size(1) - 1).reshape({-1, k}).to(sl.device(), sl.scalar_type());
    at::Tensor ti = indices.narrow(1, 0, indices.size(1) - 1).reshape({-1, k}).to(sl.device(), at::kLong);
    at::Tensor logPs = at::log_softmax(sl / temperature, -1).gather(1, ti);
    at::Tensor logPt = at::log_softmax(tv / temperature, -1);
    at::Tensor kl = (logPt.exp() * (logPt - logPs)).sum(-1).mean();
    at::Tensor loss = kl * (alpha * temperature * temperature);
    if (alpha < 1.0) loss = loss + causalLmLoss(s, ids) * (1.0 - alpha);
    return loss;
}

}  // namespace qcw
