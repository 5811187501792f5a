// The plain-data training job: load, train, export.
#include "train/train_api.h"

#include "common/error.h"
#include "common/files.h"
#include "io/checkpoint.h"
#include "model/loader.h"
#include "model/snapshot.h"
#include "train/distributed.h"
#include "train/train.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <limits>
#include <optional>
#include <thread>

namespace fs = std::filesystem;

namespace qcw {

TrainJobResult runTrainJob(const TrainJob& job, const RunContext& ctx) {
    if (job.student.empty()) fail("train", "no student model given");
    if (job.out.empty()) fail("train", "no output directory given (--out)");
    const std::string ckptDir = (fs::path(job.out) / "checkpoints").string();
    const bool haveCkpt = !latestCheckpoint(ckptDir).empty();
    if (job.resume && !haveCkpt) fail(ckptDir, "holds no checkpoint to resume from");
    if (!job.resume && haveCkpt) fail(ckptDir, "already holds checkpoints; pass --resume or choose another --out");
    std::optional<DType> exportDtype;
    if (!job.exportDtype.empty()) {
        DType d;
        if (!parseDType(job.exportDtype, d) || (d != DType::F32 && d != DType::F16 && d != DType::BF16))
            fail("--export-dtype " + job.exportDtype, "expected F32, F16 or BF16");
        exportDtype = d;
    }

    // Data-parallel when the environment says so (torchrun, qcompress launch, Slurm).
    const dist::Env env = dist::envFromEnvironment();
    std::string device = job.device;
    if (env.world > 1 && device == "cuda") device = "cuda:" + std::to_string(env.localRank);
    std::string backend = job.backend;
    if (backend.empty()) backend = device.rfind("cuda", 0) == 0 && dist::ncclAvailable() ? "nccl" : "gloo";
    if (backend != "gloo" && backend != "nccl") fail("--backend " + backend, "expected gloo or nccl");
    if (backend == "nccl" && !dist::ncclAvailable())
        fail("--backend nccl", "this build has no NCCL (a CPU LibTorch); use --backend gloo");
    std::unique_ptr<dist::Group> group;
    if (env.world > 1) {
        if (job.batch < env.world)
            fail("--batch " + std::to_string(job.batch), "is smaller than WORLD_SIZE=" + std::to_string(env.world) +
                                                             ": each rank needs at least one window per micro-batch");
        dist::GroupOptions go;
        go.backend = backend;
        go.timeoutSeconds = job.distTimeoutSeconds;
        ctx.report("dist", 0, 0, {}, "rank " + std::to_string(env.rank) + " of " + std::to_string(env.world) + " joining " +
                                         env.masterAddr + ":" + std::to_string(env.masterPort));
        group = std::make_unique<dist::Group>(env, go);
    }

    if (job.threads > 0) at::set_num_threads(job.threads);
    const LoadOptions lo = LoadOptions().onDevice(device).withDtype("float32");
    ctx.report("load", 0, 0, {}, "loading " + job.student);
    PhiModel student = loadPhiModel(Checkpoint::open(job.student), lo, ctx);
    PhiModel teacher;
    TeacherTopK cache;
    std::error_code fec;
    const bool cacheReady = !job.teacherCache.empty() && fs::exists(job.teacherCache, fec);
    if (!job.teacherCache.empty() && !cacheReady && job.teacher.empty())
        fail(job.teacherCache, "does not exist, and there is no --teacher to compute it from");
    if (!job.teacher.empty() && !cacheReady && (env.rank == 0 || job.teacherCache.empty())) {
        ctx.report("load", 0, 0, {}, "loading teacher " + job.teacher);
        teacher = loadPhiModel(Checkpoint::open(job.teacher), lo, ctx);
        if (teacher.config.vocabSize != student.config.vocabSize)
            fail(job.teacher, "vocabulary size " + std::to_string(teacher.config.vocabSize) + " differs from the student's " +
                                  std::to_string(student.config.vocabSize));
    }
    if (cacheReady) {
        cache = loadTeacherTopK(job.teacherCache, job.windows, job.teacherTopK);
    } else if (!job.teacherCache.empty()) {
        // Computed once over every training window (by rank 0), saved atomically, then the
        // teacher is freed; the other ranks wait for the file and read it.
        if (env.rank == 0) {
            cache = computeTeacherTopK(teacher, job.windows, job.teacherTopK, job.batch, ctx);
            saveTeacherTopK(cache, job.teacherCache);
            if (group) group->signalDone("teacher-cache");
        } else {
            ctx.report("dist", 0, 0, {}, "waiting for rank 0 to write " + job.teacherCache);
            group->waitDone("teacher-cache");
            cache = loadTeacherTopK(job.teacherCache, job.windows, job.teacherTopK);
        }
        teacher = PhiModel();
    }
    const bool liveTeacher = !job.teacher.empty() && job.teacherCache.empty();
    if (job.loraRank > 0) {
        LoraOptions l = LoraOptions().withRank(job.loraRank).withAlpha(job.loraAlpha > 0 ? job.loraAlpha : job.loraRank)
                            .withSeed(job.seed + 1);
        if (!job.loraTargets.empty()) l.withTargets(job.loraTargets);
        applyLora(student, l);
    }

    TrainOptions o;
    o.withSteps(job.steps).withBatch(job.batch).withAccum(job.accum).withLr(job.lr, job.minLr).withWarmup(job.warmup)
        .withMaxGradNorm(job.maxGradNorm).withSeed(job.seed).withEval(job.evalEvery, job.patience)
        .withSaveEvery(job.saveEvery, job.saveMinutes).withKeepCheckpoints(job.keepCheckpoints)
        .withDistillation(job.temperature, job.alpha);
    if (job.saveMinutes < 0) fail("--save-minutes " + std::to_string(job.saveMinutes), "must not be negative");
    if (job.keepCheckpoints < 1) fail("--keep-checkpoints " + std::to_string(job.keepCheckpoints), "must be at least 1");
    o.adamw.weightDecay = job.weightDecay;
    o.bf16Autocast = job.bf16Autocast;
    Trainer trainer(student, job.windows, o, liveTeacher ? &teacher : nullptr);
    if (cache.values.defined()) trainer.setTeacherTopK(&cache);
    trainer.setEvalWindows(job.evalWindows);
    trainer.setCheckpointDir(ckptDir);
    if (group) trainer.setProcessGroup(group.get());
    if (!job.stepLog.empty()) {
        std::string log = job.stepLog;
        const auto at = log.find("{rank}");
        if (at != std::string::npos) log.replace(at, 6, std::to_string(env.rank));
        else if (env.world > 1) log += ".rank" + std::to_string(env.rank);
        trainer.setStepLog(log);
    }
    nlohmann::json run = {{"student", job.student}, {"teacher", job.teacher}, {"teacher_cache", job.teacherCache},
                          {"teacher_top_k", job.teacherCache.empty() ? 0 : job.teacherTopK}, {"out", job.out}, {"steps", job.steps},
                          {"batch", job.batch}, {"accum", job.accum}, {"lr", job.lr}, {"min_lr", job.minLr},
                          {"warmup", job.warmup}, {"weight_decay", job.weightDecay}, {"max_grad_norm", job.maxGradNorm},
                          {"eval_every", job.evalEvery}, {"save_every", job.saveEvery},
                          {"save_minutes", job.saveMinutes}, {"keep_checkpoints", job.keepCheckpoints}, {"patience", job.patience},
                          {"seed", job.seed}, {"device", job.device}, {"processes", env.world}, {"backend", env.world > 1 ? backend : ""}, {"bf16_autocast", job.bf16Autocast && job.device != "cpu"}, {"temperature", job.temperature}, {"alpha", job.alpha},
                          {"lora_rank", job.loraRank}, {"lora_alpha", job.loraAlpha}, {"lora_targets", job.loraTargets},
                          {"train_windows", job.windows.size()}, {"eval_windows", job.evalWindows.size()},
                          {"seq_len", job.windows.empty() ? 0 : job.windows[0].size()}};
    trainer.setRunConfig(run.dump());

    TrainJobResult res;
    if (job.resume) {
        trainer.resume();
        res.resumed = true;
    }
    for (auto& p : student.parameters())
        if (p.second->requires_grad()) res.trainableParams += p.second->numel();
    TrainResult tr = trainer.run(ctx);
    res.step = tr.step;
    res.stepsRun = static_cast<std::int64_t>(tr.losses.size());
    res.finalLoss = tr.finalLoss;
    res.bestEvalLoss = tr.bestEvalLoss;
    res.lastEvalLoss = tr.evalLosses.empty() ? std::numeric_limits<double>::quiet_NaN() : tr.evalLosses.back().second;
    res.tokensPerSecond = tr.tokensPerSecond;
    res.stoppedEarly = tr.stoppedEarly;
    res.cancelled = tr.cancelled;
    res.lastCheckpoint = tr.lastCheckpoint.empty() ? latestCheckpoint(ckptDir) : tr.lastCheckpoint;
    res.alreadyFinished = tr.alreadyFinished;
    res.periodicCheckpoints = tr.periodicCheckpoints;
    res.rank = env.rank;
    res.world = env.world;
    if (group) {
        res.allReduceSeconds = group->allReduceSeconds();
        group->finish();  // every rank is done training; rank 0's checkpoint is written
        if (env.rank != 0) {
            if (!tr.cancelled && job.exportModel) res.modelDir = (fs::path(job.out) / "model").string();
            return res;   // rank 0 exports
        }
    }
    if (tr.cancelled || !job.exportModel) return res;
    res.modelDir = (fs::path(job.out) / "model").string();
    // A finished run resumed again: its model stands (exported unless the export was cut short).
    if (tr.alreadyFinished && fs::exists(fs::path(res.modelDir) / "config.json", fec)) return res;

    at::NoGradGuard noGrad;
    mergeLora(student);
    ctx.report("export", 0, 0, {}, "writing " + res.modelDir);
    buildDirectoryAtomically(res.modelDir, [&](const std::string& tmp) {
        SnapshotOptions snap;
        snap.floatDtype = exportDtype;
        writeModelSnapshot(student, tmp, snap);
        std::error_code ec;
        for (const char* extra : {"compression.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                  "vocab.json", "merges.txt", "generation_config.json", "added_tokens.json"}) {
            const fs::path src = fs::path(job.student) / extra;
            if (fs::exists(src, ec)) fs::copy_file(src, fs::path(tmp) / extra, ec);
            if (ec) fail(src.string(), "cannot copy into the exported model: " + ec.message());
        }
    }, true);
    return res;
}

}  // namespace qcw
