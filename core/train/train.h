#pragma once
// Training of a PhiModel with plain ATen autograd: AdamW (written here), warmup + cosine
// learning rate, gradient accumulation, global-norm clipping, optional distillation from a
// teacher, LoRA adapters, and resumable checkpoints. Internal to core (torch types); the CLI
// uses the plain-data facade in train/train_api.h.
#include "common/run_context.h"
#include "train/optimizer.h"
#include "model/phi_model.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace qcw {

namespace dist {
class Group;
}

// ---- Losses ----------------------------------------------------------------------------

// Causal LM cross-entropy: logits [B, T, V] predict ids[:, 1:]; mean over B*(T-1) tokens.
at::Tensor causalLmLoss(const at::Tensor& logits, const at::Tensor& ids);
// alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE, KL summed over the
// vocabulary and averaged over the predicted positions (the first T-1 of each row).
at::Tensor distillationLoss(const at::Tensor& studentLogits, const at::Tensor& teacherLogits, const at::Tensor& ids,
                            double temperature, double alpha);

// ---- Teacher top-k cache ---------------------------------------------------------------
// The teacher's k largest logits at every position of every training window, computed once
// so that distillation need not keep the teacher in memory. values: float16 [N, L, k]
// (descending), indices: int32 [N, L, k]. Saved as safetensors with the windows' hash, k and
// shape in the metadata; a cache of other data is refused on load.
struct TeacherTopK {
    at::Tensor values, indices;
    std::uint64_t windowsHash = 0;
    std::int64_t k() const { return values.defined() ? values.size(2) : 0; }
};

// FNV-1a over the windows' lengths and ids.
std::uint64_t hashWindows(const std::vector<std::vector<std::int64_t>>& windows);
TeacherTopK computeTeacherTopK(const PhiModel& teacher, const std::vector<std::vector<std::int64_t>>& windows, int k,
                               int batch, const RunContext& ctx = RunContext::none());
void saveTeacherTopK(const TeacherTopK& cache, const std::string& path);
TeacherTopK loadTeacherTopK(const std::string& path, const std::vector<std::vector<std::int64_t>>& windows, int k);

// Distillation against a cached top-k: p_t = softmax(values / T) over the k kept entries; the
// student's log_softmax(s / T) over the whole vocabulary, taken at the indices. KL summed over
// the k entries, averaged over the predicted positions; with k = V it equals distillationLoss.
at::Tensor topKDistillationLoss(const at::Tensor& studentLogits, const at::Tensor& values, const at::Tensor& indices,
                                const at::Tensor& ids, double temperature, double alpha);

// ---- LoRA ------------------------------------------------------------------------------

// y = base(x) + scale (x A^T) B^T with A [r, in] small random, B [out, r] zeros, scale
// alpha / r. The base stays frozen; parameters() are A and B only.
class LoraLinear final : public LinearOp {
public:
    LoraLinear(std::shared_ptr<LinearOp> base, int rank, double alpha, std::uint64_t seed);
    at::Tensor forward(const at::Tensor& x) const override;
    std::int64_t inFeatures() const override { return base_->inFeatures(); }
    std::int64_t outFeatures() const override { return base_->outFeatures(); }
    std::int64_t parameterCount() const override { return base_->parameterCount() + a_.numel() + b_.numel(); }
    std::string method() const override { return "lora+" + base_->method(); }
    at::Tensor denseWeight() const override;
    at::Tensor bias() const override { return base_->bias(); }
    void to(at::Device device, at::ScalarType dtype) override;
    std::vector<std::pair<std::string, at::Tensor*>> namedParameters() override;  // "lora_A", "lora_B"

    // The update folded in: DenseLinear -> DenseLinear with W + scale B A; LowRankLinear ->
    // LowRankLinear of rank r0 + r (left' = [left, scale B], right' = [right; A]); TuckerLinear
    // -> LowRankLinear (left = [outBasis core, scale B], right = [inBasis^T; A]), exact, of
    // rank rIn + r, its bases no longer shared; anything else (TT) -> DenseLinear of the
    // dense equivalent plus the update. Tensors are detached copies.
    std::shared_ptr<LinearOp> merge() const;
    const std::shared_ptr<LinearOp>& base() const { return base_; }
    double scale() const { return scale_; }
    const at::Tensor& a() const { return a_; }
    const at::Tensor& b() const { return b_; }

private:
    std::shared_ptr<LinearOp> base_;
    at::Tensor a_, b_;
    double scale_;
};

struct LoraOptions {
    int rank = 8;
    double alpha = 16.0;
    std::uint64_t seed = 1234;
    // A linear map gets an adapter when its name (e.g. "model.layers.0.self_attn.q_proj")
    // contains one of these substrings. "lm_head" is allowed unless its weight is tied.
    std::vector<std::string> targets{"q_proj", "k_proj", "v_proj", "self_attn.dense", "fc1", "fc2"};
    LoraOptions& withRank(int r) { rank = r; return *this; }
    LoraOptions& withAlpha(double a) { alpha = a; return *this; }
    LoraOptions& withSeed(std::uint64_t s) { seed = s; return *this; }
    LoraOptions& withTargets(std::vector<std::string> t) { targets = std::move(t); return *this; }
};

// Wraps the matching linear maps; returns their names. Errors when nothing matches.
std::vector<std::string> applyLora(PhiModel& model, const LoraOptions& opts);
// Replaces every LoraLinear by its merge(); returns how many were merged.
int mergeLora(PhiModel& model);
bool hasLora(const PhiModel& model);

// ---- Trainer ---------------------------------------------------------------------------

struct TrainOptions {
    std::int64_t steps = 100;       // optimizer steps
    int batch = 4;                  // windows per micro-batch
    int accum = 1;                  // micro-batches per optimizer step
    double lr = 3e-4, minLr = 0.0;
    std::int64_t warmup = 0;
    double maxGradNorm = 1.0;       // <= 0: no clipping
    AdamWOptions adamw;
    std::uint64_t seed = 0;         // data order
    std::int64_t evalEvery = 0;     // eval windows are scored every N steps and after the last; 0: after the last only
    int patience = 0;               // evaluations without improvement before stopping; 0: never
    double minDelta = 0.0;
    // Periodic checkpoints (with a checkpoint directory), whichever comes first: every
    // saveEvery steps (-1: a tenth of the steps, at most 1000; 0: never by steps) and every
    // saveMinutes minutes of training (0: never by time). Always on cancel and at the end.
    std::int64_t saveEvery = -1;
    double saveMinutes = 30.0;
    int keepCheckpoints = 3;
    double temperature = 2.0, alpha = 0.5;  // distillation, with a teacher
    bool trainEmbeddings = true;    // without LoRA: train the embedding (and a tied lm_head)
    bool bf16Autocast = true;       // on CUDA: forward passes under bf16 autocast (weights and optimizer stay fp32)
    TrainOptions& withSteps(std::int64_t s) { steps = s; return *this; }
    TrainOptions& withBatch(int b) { batch = b; return *this; }
    TrainOptions& withAccum(int a) { accum = a; return *this; }
    TrainOptions& withLr(double l, double min = 0.0) { lr = l; minLr = min; return *this; }
    TrainOptions& withWarmup(std::int64_t w) { warmup = w; return *this; }
    TrainOptions& withMaxGradNorm(double n) { maxGradNorm = n; return *this; }
    TrainOptions& withAdamW(AdamWOptions a) { adamw = a; return *this; }
    TrainOptions& withSeed(std::uint64_t s) { seed = s; return *this; }
    TrainOptions& withEval(std::int64_t every, int pat = 0, double delta = 0.0) { evalEvery = every; patience = pat; minDelta = delta; return *this; }
    TrainOptions& withSaveEvery(std::int64_t s, double minutes = 30.0) { saveEvery = s; saveMinutes = minutes; return *this; }
    TrainOptions& withKeepCheckpoints(int n) { keepCheckpoints = n; return *this; }
    // The step interval saveEvery stands for (-1 resolved; 0: none).
    std::int64_t saveEverySteps() const { return saveEvery >= 0 ? saveEvery : std::max<std::int64_t>(1, std::min<std::int64_t>(1000, steps / 10)); }
    TrainOptions& withDistillation(double t, double a) { temperature = t; alpha = a; return *this; }
};

struct TrainResult {
    std::int64_t step = 0;              // optimizer steps done in total (including resumed ones)
    std::vector<double> losses;         // training loss of each step run by this call
    std::vector<std::pair<std::int64_t, double>> evalLosses;  // (step, loss) of this call
    double finalLoss = 0.0;             // loss of the last step (NaN when none ran)
    double bestEvalLoss = 0.0;          // NaN when never evaluated
    double tokensPerSecond = 0.0;       // input tokens through forward+backward, this call
    bool stoppedEarly = false, cancelled = false;
    bool alreadyFinished = false;       // resumed at (or past) the last step: nothing ran
    std::int64_t periodicCheckpoints = 0;  // written by this call before the end (steps or minutes)
    std::string lastCheckpoint;
};

// Trains `student` in place. Windows must all have the same length (>= 2). The teacher,
// when given, runs in inference mode. With LoRA adapters on the student (applyLora before
// constructing), only their A and B train; otherwise every parameter does.
class Trainer {
public:
    Trainer(PhiModel& student, std::vector<std::vector<std::int64_t>> windows, TrainOptions opts,
            const PhiModel* teacher = nullptr);
    ~Trainer();

    void setEvalWindows(std::vector<std::vector<std::int64_t>> windows);
    // Checkpoints go to DIR/step-NNNNNNNN (each written atomically); empty: never saved.
    void setCheckpointDir(std::string dir);
    // Run description (a JSON object as text) stored in every checkpoint's trainer.json under "run".
    void setRunConfig(const std::string& runJson);
    // Distil from a cached top-k of the teacher (one row per training window, same order)
    // instead of a live teacher. The cache must outlive the trainer.
    void setTeacherTopK(const TeacherTopK* cache);

    // Data-parallel over a process group (distributed.h): the same windows are drawn as by one
    // process; each micro-batch of opts.batch windows is split over the ranks (rank r takes
    // windows [r B / W, (r+1) B / W)), each rank's loss weighted by its share, gradients summed
    // with the loss and a stop flag in one bucketed all-reduce, so every rank takes the same
    // step as one process with the whole batch. Only rank 0 writes checkpoints. The group must
    // outlive the trainer; opts.batch must be at least the number of ranks.
    void setProcessGroup(dist::Group* group);
    // One JSON line per step (step, loss, lr, grad_norm, step_s, allreduce_s, rank and a
    // checksum of the trainable weights) appended to this file; empty: none.
    void setStepLog(std::string path);

    // Restores the newest complete checkpoint under the checkpoint directory; false when
    // there is none. Errors when it does not fit this model or options.
    bool resume();
    void loadCheckpoint(const std::string& checkpointDir);
    std::string saveCheckpoint();  // returns its directory

    // Runs until opts.steps, early stopping, or cancellation (which saves a checkpoint).
    TrainResult run(const RunContext& ctx = RunContext::none());
    double evaluate();              // mean CE on the eval windows
    std::int64_t step() const;

private:
    struct State;
    std::unique_ptr<State> s_;
};

// Newest complete checkpoint directory under `dir` ("" when none).
std::string latestCheckpoint(const std::string& dir);

}  // namespace qcw
