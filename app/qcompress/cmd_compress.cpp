// qcompress compress MODEL --target-params F --method svd|asvd|tucker|tucker-xl|tt|auto --out DIR
#include "cli.h"
#include "common/error.h"
#include "common/files.h"
#include "decompose/compress_api.h"
#include "decompose/rank_search.h"
#include "io/phi_config.h"
#include "io/safetensors.h"

#include <cstdio>
#include <cstring>


QCW_COMMAND(50) {
    struct Opts {
        std::string model, out, method = "svd", solver, weighting = "spectral", ranksFile, searchDevice = "cpu", storeDtype;
        double target = 0.5;
        qcw::cli::CalibrationArgs calib;
        int ttCores = 3, refineSteps = 0;
        bool randomized = false, int8Factors = false, feedback = false, noBias = false, keepLmHead = false, replace = false, json = false;
        std::uint64_t seed = 0;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = root.add_subcommand("compress", "Factorize the model's matrices and write a compressed snapshot");
    sub->add_option("MODEL", o->model, "Model directory")->required();
    sub->add_option("--target-params", o->target, "Fraction of parameters kept (0.3 keeps 30%)")->required();
    sub->add_option("--method", o->method, "svd, asvd, tucker, tucker-xl, tt, auto, or int8 (the quantization baseline; --target-params 1)");
    sub->add_option("--out", o->out, "Output model directory")->required();
    o->calib.addTo(sub);
    sub->add_option("--solver", o->solver, "Rank allocation by a search solver (see qcompress ranks)");
    sub->add_option("--store-dtype", o->storeDtype,
                    "Store the snapshot's floating-point tensors as F32, F16, BF16, or 'source' (the dtype the model "
                    "is stored in); default: F32, the compute dtype");
    sub->add_option("--ranks", o->ranksFile,
                    "Ranks from a file: the JSON of 'qcompress ranks --json' (its allocation), e.g. searched once "
                    "and used for several methods");
    sub->add_option("--search-device", o->searchDevice,
                    "With --weighting loss: where the rank search's forward passes run (cpu, cuda or cuda:N)");
    sub->add_option("--weighting", o->weighting,
                    "With --solver: spectral (default) or loss (each matrix weighted by the calibration loss its "
                    "truncation costs; needs calibration)");
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
        c.storeDtype = o->storeDtype;
        if (!(o->target > 0.0 && o->target <= 1.0))
            qcw::fail("--target-params " + std::to_string(o->target), "the kept fraction must be in (0, 1]");
        c.calibration = o->calib.load(o->model, o->seed);
        if (o->weighting != "spectral" && o->solver.empty())
            qcw::fail("--weighting " + o->weighting, "weights the rank search; give --solver too");
        if (!o->solver.empty()) {
            if (o->method != "svd" && o->method != "asvd")
                qcw::fail("--solver " + o->solver, "searched ranks apply to per-matrix methods (svd, asvd), not --method " + o->method);
            qcw::RankSearchOptions r;
            r.keepFraction = o->target;
            r.solver = o->solver;
            r.seed = o->seed;
            r.includeLmHead = !o->keepLmHead;
            r.weighting = o->weighting;
            r.device = o->searchDevice;
            r.calibration = c.calibration;
            auto res = qcw::searchRanks(o->model, r, qcw::cli::interruptibleContext());
            c.ranks = res.ranks;
            c.solver = o->solver + (o->weighting == "loss" ? "+loss" : "");
        }
        if (!o->ranksFile.empty()) {
            if (!o->solver.empty()) qcw::fail("--ranks " + o->ranksFile, "give either --ranks or --solver");
            if (o->method != "svd" && o->method != "asvd")
                qcw::fail("--ranks " + o->ranksFile, "ranks apply to per-matrix methods (svd, asvd), not --method " + o->method);
            nlohmann::json j;
            try {
                j = nlohmann::json::parse(qcw::readTextFile(o->ranksFile));
            } catch (const qcw::Error&) {
                throw;
            } catch (const std::exception& e) {
                qcw::fail(o->ranksFile, std::string("not valid JSON: ") + e.what());
            }
            if (!j.is_object() || !j.contains("allocation") || !j["allocation"].is_array())
                qcw::fail(o->ranksFile, "has no 'allocation' array (expected the output of qcompress ranks --json)");
            for (const auto& a : j["allocation"]) {
                if (!a.is_object() || !a.contains("group") || !a["group"].is_string() || !a.contains("rank") ||
                    !a["rank"].is_number_integer())
                    qcw::fail(o->ranksFile, "an allocation entry needs a string 'group' and an integer 'rank'");
                c.ranks[a["group"].get<std::string>()] = a["rank"].get<int>();
            }
            const std::string solver = j.value("solver", std::string("file"));
            c.solver = solver + (j.value("weighting", std::string()) == "loss" ? "+loss" : "");
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
