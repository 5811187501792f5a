// qcompress train --student MODEL --out DIR --data DIR [--teacher MODEL] [--steps N] [--lora-rank R] [--resume]
#include "cli.h"
#include "common/error.h"
#include "common/files.h"
#include "io/phi_config.h"
#include "io/safetensors.h"
#include "train/train_api.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace fs = std::filesystem;

namespace {

std::vector<std::vector<std::int64_t>> chunk(const std::vector<std::int64_t>& s, std::size_t len) {
    std::vector<std::vector<std::int64_t>> out;
    for (std::size_t i = 0; i + len <= s.size(); i += len) out.emplace_back(s.begin() + long(i), s.begin() + long(i + len));
    return out;
}

}  // namespace

QCW_COMMAND(65) {
    struct Opts {
        qcw::TrainJob job;
        std::string data;
        int seqLen = 0;
        std::size_t evalWindows = 0;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto& j = o->job;
    auto* sub = root.add_subcommand("train", "Fine-tune or distill a (compressed) model; resumable, optional LoRA");
    sub->add_option("--student", j.student, "Model directory to train")->required();
    sub->add_option("--out", j.out, "Output directory: checkpoints/ and, at the end, model/")->required();
    sub->add_option("--data", o->data, "Dataset folder (dataset.jsonl from 'qcompress data build', or ids.safetensors)")->required();
    sub->add_option("--teacher", j.teacher, "Teacher model for distillation");
    sub->add_option("--teacher-cache", j.teacherCache,
                    "Distil from the teacher's top-k logits kept in this file (computed from --teacher when missing)");
    sub->add_option("--teacher-top-k", j.teacherTopK, "Logits kept per position in --teacher-cache (default 32)")
        ->check(CLI::Range(1, 1 << 20));
    sub->add_option("--steps", j.steps, "Optimizer steps (default 100)");
    sub->add_option("--lora-rank", j.loraRank, "Train LoRA adapters of this rank instead of all weights (0: off)");
    sub->add_option("--lora-alpha", j.loraAlpha, "LoRA alpha (default: the rank)");
    sub->add_flag("--resume", j.resume, "Continue from the newest checkpoint in DIR/checkpoints");
    sub->add_option("--lr", j.lr, "Peak learning rate (default 3e-4)");
    sub->add_option("--min-lr", j.minLr, "Learning rate at the end of the cosine decay (default 0)");
    sub->add_option("--weight-decay", j.weightDecay, "AdamW decoupled weight decay on matrices (default 0.01)");
    sub->add_option("--clip", j.maxGradNorm, "Global gradient-norm clip (default 1; 0: off)");
    sub->add_option("--batch", j.batch, "Windows per micro-batch (default 4)");
    sub->add_option("--accum", j.accum, "Micro-batches per optimizer step (default 1)");
    sub->add_option("--warmup", j.warmup, "Linear warmup steps (default 0)");
    sub->add_option("--eval-every", j.evalEvery, "Held-out loss every N steps (default 0: only at the end)");
    sub->add_option("--patience", j.patience, "Stop after this many evaluations without improvement (0: never)");
    sub->add_option("--save-every", j.saveEvery, "Checkpoint every N steps (default 0: at the end and on cancel)");
    sub->add_option("--export-dtype", j.exportDtype, "Store the exported model's weights as F32, F16 or BF16 (default: F32)");
    sub->add_option("--eval-windows", o->evalWindows, "Score at most this many held-out windows per evaluation (0: all)");
    sub->add_option("--seq-len", o->seqLen, "Tokens per window (default: 128, or the rows of ids.safetensors)");
    sub->add_option("--seed", j.seed, "Data order and LoRA initialisation seed (default 0)");
    sub->add_option("--temperature", j.temperature, "Distillation temperature (default 2)");
    sub->add_option("--alpha", j.alpha, "Distillation weight: alpha*T^2*KL + (1-alpha)*CE (default 0.5)");
    sub->add_option("--threads", j.threads, "CPU threads (0: all cores)");
    sub->add_flag("--json", o->json, "Print one JSON object on stdout");
    sub->callback([o] {
        auto& job = o->job;
        const qcw::PhiConfig cfg = qcw::PhiConfig::load((fs::path(job.student) / "config.json").string());
        if (o->seqLen < 0 || o->seqLen == 1) qcw::fail("--seq-len " + std::to_string(o->seqLen), "must be at least 2");
        const fs::path ids = fs::path(o->data) / "ids.safetensors", jsonl = fs::path(o->data) / "dataset.jsonl";
        std::error_code ec;
        std::vector<std::vector<std::int64_t>> windows;
        if (fs::exists(ids, ec)) {
            for (auto& row : qcw::cli::readIdRows(ids.string())) {
                const std::size_t len = o->seqLen > 0 ? std::size_t(o->seqLen) : row.size();
                for (auto& w : chunk(row, len)) windows.push_back(std::move(w));
            }
        } else if (fs::exists(jsonl, ec)) {
            const std::size_t len = o->seqLen > 0 ? std::size_t(o->seqLen) : std::size_t(std::min(128, cfg.maxPositions));
            windows = chunk(qcw::cli::tokenizeDataset(jsonl.string(), job.student, "--data dataset.jsonl (or give ids.safetensors)"), len);
        } else {
            qcw::fail(o->data, "has neither ids.safetensors nor dataset.jsonl");
        }
        if (windows.empty()) qcw::fail(o->data, "gives no complete window of --seq-len tokens");
        // The last 5% of the windows (at least one, when there are 10 or more) are held out.
        if (windows.size() >= 10) {
            const std::size_t hold = (windows.size() + 19) / 20;
            job.evalWindows.assign(windows.end() - long(hold), windows.end());
            windows.resize(windows.size() - hold);
            if (o->evalWindows > 0 && job.evalWindows.size() > o->evalWindows) job.evalWindows.resize(o->evalWindows);
        }
        job.windows = std::move(windows);
        auto& ctx = qcw::cli::interruptibleContext();
        auto r = qcw::runTrainJob(job, ctx);
        auto num = [](double x) { return std::isnan(x) ? nlohmann::json(nullptr) : nlohmann::json(x); };
        nlohmann::json out = {{"step", r.step}, {"steps_run", r.stepsRun}, {"final_loss", num(r.finalLoss)},
                              {"eval_loss", num(r.lastEvalLoss)}, {"best_eval_loss", num(r.bestEvalLoss)},
                              {"tokens_per_s", r.tokensPerSecond}, {"stopped_early", r.stoppedEarly},
                              {"resumed", r.resumed}, {"trainable_params", r.trainableParams},
                              {"train_windows", job.windows.size()}, {"eval_windows", job.evalWindows.size()},
                              {"checkpoint", r.lastCheckpoint}, {"model", r.modelDir}};
        if (r.cancelled) {
            std::fprintf(stderr, "qcompress train: checkpoint written to %s; continue with --resume\n", r.lastCheckpoint.c_str());
            throw qcw::Cancelled();
        }
        if (o->json) {
            qcw::cli::printJson(out);
        } else {
            std::printf("trained to step %lld, loss %.5f", static_cast<long long>(r.step), r.finalLoss);
            if (!std::isnan(r.lastEvalLoss)) std::printf(", eval loss %.5f", r.lastEvalLoss);
            std::printf(", %.0f tokens/s; model written to %s\n", r.tokensPerSecond, r.modelDir.c_str());
        }
    });
}
