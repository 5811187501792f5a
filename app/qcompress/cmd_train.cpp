// qcompress train --student MODEL --out DIR --data DIR [--teacher MODEL] [--steps N] [--lora-rank R] [--resume]
#include "cli.h"
#include "common/error.h"
#include "common/files.h"
#include "train/train_api.h"
#include "data/train_data.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

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
    sub->add_option("--save-every", j.saveEvery,
                    "Checkpoint every N steps (default -1: a tenth of --steps, at most 1000; 0: not by steps)");
    sub->add_option("--save-minutes", j.saveMinutes,
                    "Checkpoint every M minutes of training, whichever of steps and minutes comes first (default 30; 0: not by time)");
    sub->add_option("--keep-checkpoints", j.keepCheckpoints, "Keep the newest N checkpoints (default 3)");
    sub->add_option("--export-dtype", j.exportDtype, "Store the exported model's weights as F32, F16 or BF16 (default: F32)");
    sub->add_option("--eval-windows", o->evalWindows, "Score at most this many held-out windows per evaluation (0: all)");
    sub->add_option("--seq-len", o->seqLen, "Tokens per window (default: 128, or the rows of ids.safetensors)");
    sub->add_option("--seed", j.seed, "Data order and LoRA initialisation seed (default 0)");
    sub->add_option("--temperature", j.temperature, "Distillation temperature (default 2)");
    sub->add_option("--alpha", j.alpha, "Distillation weight: alpha*T^2*KL + (1-alpha)*CE (default 0.5)");
    sub->add_option("--threads", j.threads, "CPU threads (0: all cores)");
    sub->add_option("--device", j.device, "cpu, cuda or cuda:N (CUDA: bf16 autocast, fp32 weights and optimizer)");
    sub->add_flag("--no-autocast", [o](std::int64_t) { o->job.bf16Autocast = false; }, "On CUDA, run the forward in fp32 too");
    sub->add_option("--backend", j.backend,
                    "Data-parallel backend under torchrun / qcompress launch / Slurm: gloo or nccl (default: nccl on CUDA "
                    "when built with it, else gloo)");
    sub->add_option("--dist-timeout", j.distTimeoutSeconds,
                    "Seconds a rank waits for the others in a collective before the job fails (default 600)");
    sub->add_option("--step-log", j.stepLog,
                    "Append one JSON line per step (loss, times, weight checksum) to this file; with several ranks "
                    "'{rank}' in it is replaced, else .rankN appended");
    sub->add_flag("--json", o->json, "Print one JSON object on stdout");
    sub->callback([o] {
        auto& job = o->job;
        if (o->seqLen < 0 || o->seqLen == 1) qcw::fail("--seq-len " + std::to_string(o->seqLen), "must be at least 2");
        qcw::TrainDataOptions dopt;
        dopt.withSeqLen(o->seqLen).withMaxEvalWindows(o->evalWindows);
        dopt.tokenizerFor = "--data dataset.jsonl (or give ids.safetensors)";
        qcw::TrainData data = qcw::loadTrainData(o->data, job.student, dopt);
        job.windows = std::move(data.windows);
        job.evalWindows = std::move(data.evalWindows);
        auto& ctx = qcw::cli::interruptibleContext();
        // Under torchrun / qcompress launch, rank 0 alone prints (progress and the result).
        const char* rankVar = std::getenv("RANK");
        const char* worldVar = std::getenv("WORLD_SIZE");
        const bool quiet = rankVar && worldVar && std::atoi(worldVar) > 1 && std::atoi(rankVar) != 0;
        if (quiet) ctx.setCallback({});
        auto r = qcw::runTrainJob(job, ctx);
        if (quiet && r.cancelled) throw qcw::Cancelled();
        if (quiet) return;
        auto num = [](double x) { return std::isnan(x) ? nlohmann::json(nullptr) : nlohmann::json(x); };
        nlohmann::json out = {{"step", r.step}, {"steps_run", r.stepsRun}, {"final_loss", num(r.finalLoss)},
                              {"eval_loss", num(r.lastEvalLoss)}, {"best_eval_loss", num(r.bestEvalLoss)},
                              {"tokens_per_s", r.tokensPerSecond}, {"stopped_early", r.stoppedEarly},
                              {"resumed", r.resumed}, {"trainable_params", r.trainableParams},
                              {"train_windows", job.windows.size()}, {"eval_windows", job.evalWindows.size()},
                              {"checkpoint", r.lastCheckpoint}, {"model", r.modelDir},
                              {"already_finished", r.alreadyFinished}, {"periodic_checkpoints", r.periodicCheckpoints},
                              {"processes", r.world}, {"allreduce_s", r.allReduceSeconds}};
        if (r.cancelled) {
            std::fprintf(stderr, "qcompress train: checkpoint written to %s; continue with --resume\n", r.lastCheckpoint.c_str());
            throw qcw::Cancelled();
        }
        if (o->json) {
            qcw::cli::printJson(out);
        } else if (r.alreadyFinished) {
            std::printf("%s already finished at step %lld of %lld", job.out.c_str(), static_cast<long long>(r.step),
                        static_cast<long long>(job.steps));
            if (!std::isnan(r.finalLoss)) std::printf(" (last loss %.5f)", r.finalLoss);
            std::printf("; nothing to train; model in %s (raise --steps to train further)\n", r.modelDir.c_str());
        } else {
            std::printf("trained to step %lld, loss %.5f", static_cast<long long>(r.step), r.finalLoss);
            if (!std::isnan(r.lastEvalLoss)) std::printf(", eval loss %.5f", r.lastEvalLoss);
            std::printf(", %.0f tokens/s; model written to %s\n", r.tokensPerSecond, r.modelDir.c_str());
        }
    });
}
