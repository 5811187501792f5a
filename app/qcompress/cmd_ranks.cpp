// qcompress ranks MODEL --target-params F --solver exact|greedy|anneal|sqa|qaoa --json
#include "cli.h"
#include "decompose/rank_search.h"

#include <cstdio>

QCW_COMMAND(40) {
    struct Opts {
        std::string model, solver = "exact";
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
    sub->add_flag("--json", o->json, "Print one JSON object on stdout");
    sub->callback([o] {
        qcw::RankSearchOptions r;
        r.keepFraction = o->target;
        r.solver = o->solver;
        r.seed = o->seed;
        r.includeLmHead = !o->keepLmHead;
        auto res = qcw::searchRanks(o->model, r, qcw::cli::interruptibleContext());
        if (o->json) {
            std::printf("%s\n", res.json.c_str());
            return;
        }
        std::printf("%s: %lld -> %lld parameters; summed discarded weight %.6g (uniform ranks: %.6g) in %.2f s\n",
                    res.solver.c_str(), static_cast<long long>(res.paramsBefore), static_cast<long long>(res.paramsAfter),
                    res.objective, res.uniformObjective, res.seconds);
        for (const auto& g : res.order) std::printf("  %-44s %5d\n", g.c_str(), res.ranks.at(g));
    });
}
