// qcompress compress MODEL --target-params F --method svd|asvd|tucker|tucker-xl|tt|auto --out DIR
#include "cli.h"
#include "common/error.h"
#include "decompose/compress_job.h"
#include "decompose/strategies/registry.h"
#include "io/phi_config.h"
#include "io/safetensors.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>


namespace {

// "2GB", "500MB", "1.5GiB", "123456" -> bytes (decimal GB/MB/KB, binary GiB/MiB/KiB).
std::int64_t parseByteSize(const std::string& text, const std::string& what) {
    std::size_t used = 0;
    double v = 0;
    try {
        v = std::stod(text, &used);
    } catch (const std::exception&) {
        qcw::fail(what + " " + text, "expected a size such as 2GB, 500MB, 1.5GiB or a number of bytes");
    }
    std::string unit = text.substr(used);
    for (auto& ch : unit) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    double mul = 0;
    if (unit.empty() || unit == "B") mul = 1;
    else if (unit == "KB") mul = 1e3;
    else if (unit == "MB") mul = 1e6;
    else if (unit == "GB") mul = 1e9;
    else if (unit == "KIB") mul = 1024.0;
    else if (unit == "MIB") mul = 1024.0 * 1024;
    else if (unit == "GIB") mul = 1024.0 * 1024 * 1024;
    if (mul == 0 || !(v > 0) || !std::isfinite(v * mul) || v * mul > 9e18)
        qcw::fail(what + " " + text, "expected a positive size such as 2GB, 500MB, 1.5GiB or a number of bytes");
    return static_cast<std::int64_t>(std::floor(v * mul));
}

}  // namespace

QCW_COMMAND(50) {
    struct Opts {
        std::string model, out, method = "svd", solver, weighting = "auto", ranksFile, searchDevice = "cpu", storeDtype = "source";
        std::string targetSize, allocation = "auto", budgetSolver = "exact";
        double target = 0.5, targetBits = 0;
        bool noGptq = false, noCorrection = false;
        qcw::cli::CalibrationArgs calib;
        int ttCores = 3, refineSteps = 0;
        bool randomized = false, int8Factors = false, feedback = false, noBias = false, keepLmHead = false, replace = false, json = false;
        std::uint64_t seed = 0;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = root.add_subcommand("compress", "Factorize the model's matrices and write a compressed snapshot");
    sub->add_option("MODEL", o->model, "Model directory")->required();
    auto* tp = sub->add_option("--target-params", o->target, "Fraction of parameters kept (0.3 keeps 30%)");
    auto* tb = sub->add_option("--target-bits", o->targetBits,
                               "A byte budget in bits per original parameter (as GGUF files are read): per matrix, the "
                               "token embedding included, the encoding (16-bit, 8-/4-bit blocks, low-rank with quantized "
                               "factors, 4-bit plus a low-rank correction) chosen so model.safetensors fits");
    auto* ts = sub->add_option("--target-size", o->targetSize, "A byte budget for model.safetensors: 2GB, 500MB, 1.5GiB or bytes");
    tp->excludes(tb)->excludes(ts);
    tb->excludes(ts);
    sub->add_option("--allocation", o->allocation,
                    "With a byte budget: auto (default: search with calibration data, uniform without), search (the "
                    "joint method/rank/bits allocation minimising the predicted calibration loss) or uniform (every "
                    "matrix the same bits per parameter)");
    sub->add_option("--budget-solver", o->budgetSolver, "With a byte budget: exact (default), greedy, anneal or sqa");
    sub->add_flag("--no-gptq", o->noGptq, "With a byte budget: quantize by plain rounding, not GPTQ error feedback");
    sub->add_flag("--no-correction", o->noCorrection,
                  "With a byte budget: skip the correction pass (measure the allocation, re-weight, keep the better)");
    // The strategies come from the one table (core/decompose/strategies/registry.cpp).
    sub->add_option("--method", o->method,
                    "Decomposition strategy: " + qcw::listedStrategyIds() + " (default " + qcw::defaultStrategyId() +
                        "; see Strategies below)");
    sub->footer(qcw::strategyHelp());
    sub->add_option("--out", o->out, "Output model directory")->required();
    o->calib.addTo(sub);
    sub->add_option("--solver", o->solver, "Rank allocation by a search solver (see qcompress ranks)");
    sub->add_option("--store-dtype", o->storeDtype,
                    "Store the snapshot's floating-point tensors as F32, F16, BF16, or 'source' (the dtype the model "
                    "is stored in; the default)");
    sub->add_option("--ranks", o->ranksFile,
                    "Ranks from a file: the JSON of 'qcompress ranks --json' (its allocation), e.g. searched once "
                    "and used for several methods");
    sub->add_option("--search-device", o->searchDevice,
                    "With --weighting loss: where the rank search's forward passes run (cpu, cuda or cuda:N)");
    auto* wopt = sub->add_option("--weighting", o->weighting,
                    "With --solver: auto (default: loss with calibration data, else uniform ranks), loss (each matrix weighted "
                    "by the calibration loss its truncation costs), size (each matrix's discarded spectral weight "
                    "times its share of the parameters) or spectral (the discarded weight, every matrix alike)");
    sub->add_flag("--randomized", o->randomized, "Randomized SVD (faster on big matrices)");
    sub->add_flag("--int8-factors", o->int8Factors, "Store the low-rank factors in int8 (one scale per row)");
    sub->add_flag("--error-feedback", o->feedback, "Calibrate each block on the already-compressed model's activations");
    sub->add_flag("--no-bias-correction", o->noBias, "Keep biases as they are");
    sub->add_flag("--keep-lm-head", o->keepLmHead, "Leave lm_head dense");
    sub->add_option("--tt-cores", o->ttCores, "Cores per tensor train");
    sub->add_option("--refine-steps", o->refineSteps,
                    "Variational refinement: Adam steps on each layer's factors against its calibration output error");
    sub->add_option("--seed", o->seed, "Seed for randomized SVD and random calibration");
    sub->add_flag("--replace", o->replace, "Replace an existing output directory");
    sub->add_flag("--json", o->json, "Print compression.json on stdout");
    sub->callback([o, tp, tb, ts, wopt] {
        qcw::CompressOptions c;
        c.keepFraction = o->target;
        c.method = o->method;
        c.randomized = o->randomized;
        c.seed = o->seed;
        c.errorFeedback = o->feedback;
        c.int8Factors = o->int8Factors;
        c.biasCorrection = !o->noBias;
        c.includeLmHead = !o->keepLmHead;
        c.ttCores = o->ttCores;
        c.refineSteps = o->refineSteps;
        c.storeDtype = o->storeDtype;
        const bool byteBudget = *tb || *ts;
        if (!byteBudget && !*tp) qcw::fail("compress", "give --target-params, --target-bits or --target-size");
        if (!(o->target > 0.0 && o->target <= 1.0))
            qcw::fail("--target-params " + std::to_string(o->target), "the kept fraction must be in (0, 1]");
        if (*tb && !(o->targetBits > 0 && o->targetBits <= 32))
            qcw::fail("--target-bits " + std::to_string(o->targetBits), "must be in (0, 32]");
        if (*ts) c.targetBytes = parseByteSize(o->targetSize, "--target-size");
        c.targetBits = o->targetBits;
        c.allocation = o->allocation;
        c.budgetSolver = o->budgetSolver;
        c.gptq = !o->noGptq;
        c.correctionPass = !o->noCorrection;
        if (byteBudget &&
            (!o->solver.empty() || !o->ranksFile.empty() || o->method != qcw::defaultStrategyId() || o->int8Factors))
            qcw::fail(*tb ? "--target-bits" : "--target-size",
                      "chooses every matrix's encoding itself; drop --method, --solver, --ranks and --int8-factors");
        // Flag combinations are checked here (the messages name the flags); calibration,
        // search, ranks file and compression are one job (decompose/compress_job.h).
        if (*wopt && o->solver.empty())
            qcw::fail("--weighting " + qcw::resolveWeighting(o->weighting, o->calib.given(), false),
                      "weights the rank search; give --solver too");
        if (!o->solver.empty() && !qcw::strategySearchable(o->method))
            qcw::fail("--solver " + o->solver, "searched ranks apply to per-matrix methods (" +
                                                   qcw::searchableStrategyIds() + "), not --method " + o->method);
        if (!o->ranksFile.empty()) {
            if (!o->solver.empty()) qcw::fail("--ranks " + o->ranksFile, "give either --ranks or --solver");
            if (!qcw::strategySearchable(o->method))
                qcw::fail("--ranks " + o->ranksFile, "ranks apply to per-matrix methods (" +
                                                         qcw::searchableStrategyIds() + "), not --method " + o->method);
        }
        qcw::CompressJobOptions job;
        job.modelDir = o->model;
        job.outDir = o->out;
        job.replace = o->replace;
        job.compress = c;
        job.calibration = o->calib.spec();
        job.solver = o->solver;
        job.weighting = o->weighting;
        job.searchDevice = o->searchDevice;
        job.ranksFile = o->ranksFile;
        // A solver asked for without calibration data searches the spectral objective (uniform
        // weighting would hand back uniform ranks and ignore the solver).
        if (!o->solver.empty() && !*wopt && !job.calibration.given())
            std::fprintf(stderr,
                         "note: no calibration data: --solver %s searches the spectral objective, which can starve "
                         "lm_head; --calib-data DIR searches the measured loss\n",
                         o->solver.c_str());
        auto report = *qcw::runCompressJob(job, qcw::cli::interruptibleContext()).report;
        if (o->json) {
            std::printf("%s", qcw::reportToJson(report).c_str());
        } else if (report.budgetBytes > 0) {
            std::printf("%s: planned %lld bytes for a budget of %lld (%s allocation%s) in %.1f s\n", o->out.c_str(),
                        static_cast<long long>(report.plannedBytes), static_cast<long long>(report.budgetBytes),
                        report.allocation.c_str(), report.calibrated ? ", calibrated" : "", report.seconds);
        } else {
            std::printf("%s: %lld -> %lld parameters (%.1f%% kept) by %s in %.1f s%s\n", o->out.c_str(),
                        static_cast<long long>(report.paramsBefore), static_cast<long long>(report.paramsAfter),
                        100.0 * report.ratio, report.method.c_str(), report.seconds,
                        report.calibrated ? (report.errorFeedback ? ", calibrated with error feedback" : ", calibrated") : "");
        }
    });
}
