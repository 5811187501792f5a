#pragma once
// Plain-data facade of training for the CLI and the UI (no torch types): load the student
// (and teacher), train on token windows with resumable checkpoints, export the snapshot.
#include "common/run_context.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qcw {

struct TrainJob {
    std::string student, teacher;   // model directories; teacher optional
    // Distil from the teacher's top-k logits cached in this file (computed from `teacher` and
    // saved when missing; the teacher is then not kept in memory). Empty: a live teacher.
    std::string teacherCache;
    int teacherTopK = 32;
    std::string out;                // DIR: DIR/checkpoints/step-N, at the end DIR/model
    std::vector<std::vector<std::int64_t>> windows, evalWindows;  // token windows of one length
    std::int64_t steps = 100;
    int batch = 4, accum = 1;
    double lr = 3e-4, minLr = 0.0, weightDecay = 0.01, maxGradNorm = 1.0;
    std::int64_t warmup = 0, evalEvery = 0;
    // Periodic checkpoints, whichever comes first: every saveEvery steps (-1: a tenth of the
    // steps, at most 1000; 0: off) and every saveMinutes minutes (0: off); the newest
    // keepCheckpoints are kept. Always written on cancel and at the end.
    std::int64_t saveEvery = -1;
    double saveMinutes = 30.0;
    int keepCheckpoints = 3;
    int patience = 0;
    std::uint64_t seed = 0;
    double temperature = 2.0, alpha = 0.5;
    int loraRank = 0;               // 0: full training
    double loraAlpha = 0.0;         // 0: the rank (scale 1)
    std::vector<std::string> loraTargets;  // empty: attention and MLP maps
    bool resume = false;
    int threads = 0;                // CPU threads (0: leave ATen's default, all cores)
    std::string device = "cpu";     // cpu, cuda or cuda:N; on CUDA the forward runs under bf16 autocast
    bool bf16Autocast = true;
    bool exportModel = true;
    // Data-parallel: with WORLD_SIZE > 1 in the environment (torchrun, `qcompress launch`,
    // Slurm), the job joins a c10d process group at MASTER_ADDR:MASTER_PORT as rank RANK;
    // --batch is the global micro-batch, split over the ranks.
    std::string backend;            // gloo or nccl ("": nccl on CUDA when built with it, else gloo)
    double distTimeoutSeconds = 600;  // a collective waiting longer fails (a hung rank)
    // JSON lines per step (loss, times, weight checksum); with several ranks "{rank}" in the
    // path is replaced by the rank, or ".rankN" is appended.
    std::string stepLog;
    std::string exportDtype;        // F32, F16 or BF16 for the exported weights ("": as trained, F32)
    TrainJob& withStudent(std::string d) { student = std::move(d); return *this; }
    TrainJob& withTeacher(std::string d) { teacher = std::move(d); return *this; }
    TrainJob& withOut(std::string d) { out = std::move(d); return *this; }
    TrainJob& withSteps(std::int64_t s) { steps = s; return *this; }
    TrainJob& withLora(int rank, double a = 0.0) { loraRank = rank; loraAlpha = a; return *this; }
    TrainJob& withResume(bool r) { resume = r; return *this; }
};

struct TrainJobResult {
    std::int64_t step = 0, stepsRun = 0;
    double finalLoss = 0.0, bestEvalLoss = 0.0, lastEvalLoss = 0.0, tokensPerSecond = 0.0;  // NaN when absent
    bool stoppedEarly = false, cancelled = false, resumed = false;
    bool alreadyFinished = false;   // resumed a run that had reached its last step: nothing trained
    std::int64_t periodicCheckpoints = 0;
    int rank = 0, world = 1;
    double allReduceSeconds = 0.0;  // this rank, in total
    std::int64_t trainableParams = 0;
    std::string lastCheckpoint, modelDir;  // modelDir empty when not exported
};

// Throws qcw::Error on bad input. Cancellation writes a checkpoint and returns with
// cancelled = true (nothing exported).
TrainJobResult runTrainJob(const TrainJob& job, const RunContext& ctx = RunContext::none());

}  // namespace qcw
