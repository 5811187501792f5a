// qcompress ranks MODEL --target-params F --solver exact|greedy|anneal|sqa|qaoa [--weighting spectral|loss
//                  (--calib FILE | --calib-data DIR | --calib-random N)] --json
#include "cli.h"
#include "common/error.h"
#include "decompose/rank_search.h"

#include <cstdio>

QCW_COMMAND(40) {
    struct Opts {
        std::string model, solver = "exact", weighting = "auto", device = "cpu";
        qcw::cli::CalibrationArgs calib;
        double target = 0.3;
        std::uint64_t seed = 1;
        bool json = false, keepLmHead = false;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = root.add_subcommand("ranks", "Search the rank of every matrix under a parameter budget");
    sub->add_option("MODEL", o->model, "Model directory")->required();
    sub->add_option("--target-params", o->target, "Fraction of parameters kept (0.3 keeps 30%)")->required();
    sub->add_option("--solver", o->solver, "exact, greedy, anneal, sqa or qaoa");
    sub->add_option("--seed", o->seed, "Seed for the stochastic solvers");
    sub->add_flag("--keep-lm-head", o->keepLmHead, "Leave lm_head out of the search (dense)");
    sub->add_option("--weighting", o->weighting,
                    "auto (default: loss with calibration, else uniform ranks), size (each matrix's discarded spectral weight "
                    "times its share of the parameters), spectral (the discarded weight, every matrix alike) or loss "
                    "(each matrix weighted by the calibration loss its truncation to the uniform rank costs)");
    o->calib.addTo(sub);
    sub->add_option("--device", o->device, "With --weighting loss: where the forward passes run (cpu, cuda or cuda:N)");
    sub->add_flag("--json", o->json, "Print one JSON object on stdout");
    sub->callback([o, sub] {
        qcw::RankSearchOptions r;
        r.keepFraction = o->target;
        r.solver = o->solver;
        r.seed = o->seed;
        r.includeLmHead = !o->keepLmHead;
        r.weighting = o->weighting;
        r.device = o->device;
        r.calibration = o->calib.load(o->model, o->seed);
        // A solver asked for without calibration data searches the spectral objective (the
        // default, uniform ranks, would ignore it).
        if (o->weighting == "auto" && r.calibration.empty() && sub->get_option("--solver")->count() > 0) {
            r.weighting = "spectral";
            std::fprintf(stderr, "note: no calibration data: --solver %s searches the spectral objective, which can "
                                 "starve lm_head; --calib-data DIR searches the measured loss\n", o->solver.c_str());
        }
        if (!r.calibration.empty() && r.weighting != "loss" && r.weighting != "auto")
            qcw::fail("calibration", "is used by --weighting loss only");
        auto res = qcw::searchRanks(o->model, r, qcw::cli::interruptibleContext());
        if (o->json) {
            std::printf("%s\n", res.json.c_str());
            return;
        }
        const bool loss = res.weighting == "loss";
        std::printf("%s: %lld -> %lld parameters; %s %.6g (uniform ranks: %.6g) in %.2f s\n", res.solver.c_str(),
                    static_cast<long long>(res.paramsBefore), static_cast<long long>(res.paramsAfter),
                    loss ? "predicted loss increase (nats/token)" : "summed discarded weight", res.objective,
                    res.uniformObjective, res.seconds);
        if (loss) std::printf("  dense calibration loss %.4f nats/token\n", res.baseLoss);
        for (const auto& g : res.order) {
            if (loss) {
                const auto& s = res.sensitivity.at(g);
                std::string probes;
                for (std::size_t k = 0; k < s.ranks.size(); ++k) {
                    char buf[64];
                    std::snprintf(buf, sizeof buf, "%s%d: %+.4f", k ? ", " : "", s.ranks[k], s.lossIncrease[k]);
                    probes += buf;
                }
                std::printf("  %-44s %5d   loss increase at rank %s (uniform %d)\n", g.c_str(), res.ranks.at(g),
                            probes.c_str(), s.uniformRank);
            } else {
                std::printf("  %-44s %5d\n", g.c_str(), res.ranks.at(g));
            }
        }
    });
}
