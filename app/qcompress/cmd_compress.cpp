// qcompress compress MODEL --target-params F --method svd|asvd|tucker|tucker-xl|tt|auto --out DIR
#include "cli.h"
#include "common/error.h"
#include "decompose/compress_api.h"
#include "decompose/rank_search.h"
#include "io/phi_config.h"
#include "io/safetensors.h"

#include <cstdio>
#include <cstring>
#include <random>


QCW_COMMAND(50) {
    struct Opts {
        std::string model, out, method = "svd", calib, calibData, solver;
        double target = 0.5;
        int calibRandom = 0, calibWindows = 32, calibLength = 128, ttCores = 3, refineSteps = 0;
        bool randomized = false, int8Factors = false, feedback = false, noBias = false, keepLmHead = false, replace = false, json = false;
        std::uint64_t seed = 0;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = root.add_subcommand("compress", "Factorize the model's matrices and write a compressed snapshot");
    sub->add_option("MODEL", o->model, "Model directory")->required();
    sub->add_option("--target-params", o->target, "Fraction of parameters kept (0.3 keeps 30%)")->required();
    sub->add_option("--method", o->method, "svd, asvd, tucker, tucker-xl, tt, auto, or int8 (the quantization baseline; --target-params 1)");
    sub->add_option("--out", o->out, "Output model directory")->required();
    sub->add_option("--calib", o->calib, "Calibration ids: a safetensors file with int64 input_ids [windows, length]");
    sub->add_option("--calib-random", o->calibRandom,
                    "Calibrate on N windows of uniformly random token ids (for synthetic models without text)");
    sub->add_option("--calib-data", o->calibData,
                    "Calibrate on a dataset folder from 'qcompress data build' (its dataset.jsonl, with the model's tokenizer)");
    sub->add_option("--calib-windows", o->calibWindows, "Windows taken evenly from --calib-data (default 32)")
        ->check(CLI::Range(1, 1 << 20));
    sub->add_option("--calib-length", o->calibLength, "Window length for --calib-data and --calib-random (default 128)")
        ->check(CLI::Range(2, 1 << 20));
    sub->add_option("--solver", o->solver, "Rank allocation by a search solver (see qcompress ranks)");
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
    sub->callback([o] {
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
        if (!(o->target > 0.0 && o->target <= 1.0))
            qcw::fail("--target-params " + std::to_string(o->target), "the kept fraction must be in (0, 1]");
        if (!o->solver.empty()) {
            if (o->method != "svd" && o->method != "asvd")
                qcw::fail("--solver " + o->solver, "searched ranks apply to per-matrix methods (svd, asvd), not --method " + o->method);
            qcw::RankSearchOptions r;
            r.keepFraction = o->target;
            r.solver = o->solver;
            r.seed = o->seed;
            r.includeLmHead = !o->keepLmHead;
            auto res = qcw::searchRanks(o->model, r, qcw::cli::interruptibleContext());
            c.ranks = res.ranks;
            c.solver = o->solver;
        }
        if (int(!o->calib.empty()) + int(!o->calibData.empty()) + int(o->calibRandom > 0) > 1)
            qcw::fail("compress", "give one of --calib, --calib-data and --calib-random");
        if (!o->calib.empty()) c.calibration = qcw::cli::readIdRows(o->calib);
        if (!o->calibData.empty()) {
            const auto stream = qcw::cli::tokenizeDataset(o->calibData + "/dataset.jsonl", o->model, "--calib-data");
            const auto len = static_cast<std::size_t>(o->calibLength), have = stream.size() / len;
            if (have == 0)
                qcw::fail(o->calibData, "gives fewer than --calib-length " + std::to_string(len) + " tokens");
            const std::size_t n = std::min<std::size_t>(have, static_cast<std::size_t>(o->calibWindows));
            for (std::size_t i = 0; i < n; ++i) {  // evenly spaced over the whole stream
                const std::size_t at = (i * have / n) * len;
                c.calibration.emplace_back(stream.begin() + long(at), stream.begin() + long(at + len));
            }
        }
        if (o->calibRandom > 0) {
            const auto vocab = static_cast<std::uint64_t>(qcw::PhiConfig::load(o->model + "/config.json").vocabSize);
            std::mt19937_64 rng(o->seed + 17);
            c.calibration.assign(static_cast<std::size_t>(o->calibRandom), std::vector<std::int64_t>(static_cast<std::size_t>(o->calibLength)));
            for (auto& w : c.calibration)
                for (auto& t : w) t = static_cast<std::int64_t>(rng() % vocab);
        }
        auto report = qcw::compressModelDir(o->model, o->out, c, qcw::cli::interruptibleContext(), o->replace);
        if (o->json) {
            std::printf("%s", qcw::reportToJson(report).c_str());
        } else {
            std::printf("%s: %lld -> %lld parameters (%.1f%% kept) by %s in %.1f s%s\n", o->out.c_str(),
                        static_cast<long long>(report.paramsBefore), static_cast<long long>(report.paramsAfter),
                        100.0 * report.ratio, report.method.c_str(), report.seconds,
                        report.calibrated ? (report.errorFeedback ? ", calibrated with error feedback" : ", calibrated") : "");
        }
    });
}
