// Greedy marginal gain: start at the cheapest choice of every group and repeatedly take the
// switch with the largest error decrease per added parameter that still fits the budget
// (a switch that lowers the error without adding parameters counts as infinitely good),
// until no switch lowers the error within the budget. The error falls strictly at each step,
// so it terminates; it is exact on convex error curves without the budget binding and
// otherwise a heuristic.
#include "rank/solver_internal.h"
#include "rank/solvers.h"

#include "common/run_context.h"

#include <limits>

namespace qcw {

using namespace rankdetail;

RankSolution solveGreedy(const RankProblem& problem, const GreedyOptions& o, RunContext& ctx, const Observer& observer) {
    Stopwatch clock;
    problem.validate();
    RankSolution s;
    s.solver = "greedy";
    std::vector<int> a = problem.cheapestAllocation();
    std::int64_t P = problem.params(a);
    double obj = problem.objective(a);
    Reporter rep("greedy", ctx, observer, o.reportEvery(), 0);
    while (true) {
        if (ctx.isCancelled()) {
            s.cancelled = true;
            break;
        }
        int bg = -1, bc = -1;
        double bestRate = 0.0;
        for (std::size_t g = 0; g < problem.groups.size(); ++g) {
            const auto& ch = problem.groups[g].choices;
            const auto& cur = ch[static_cast<std::size_t>(a[g])];
            for (std::size_t c = 0; c < ch.size(); ++c) {
                const double de = cur.error - ch[c].error;
                if (!(de > 0.0)) continue;
                const std::int64_t dp = ch[c].params - cur.params;
                if (P + dp > problem.budget) continue;
                const double rate = dp <= 0 ? std::numeric_limits<double>::infinity() : de / static_cast<double>(dp);
                if (bg < 0 || rate > bestRate) {
                    bestRate = rate;
                    bg = static_cast<int>(g);
                    bc = static_cast<int>(c);
                }
            }
        }
        if (bg < 0) break;
        const auto& ch = problem.groups[static_cast<std::size_t>(bg)].choices;
        const auto& cur = ch[static_cast<std::size_t>(a[static_cast<std::size_t>(bg)])];
        P += ch[static_cast<std::size_t>(bc)].params - cur.params;
        obj += ch[static_cast<std::size_t>(bc)].error - cur.error;
        a[static_cast<std::size_t>(bg)] = bc;
        ++s.iterations;
        if (rep.due(s.iterations)) {
            SolverEvent e;
            e.iteration = s.iterations;
            e.energy = obj;
            e.bestObjective = obj;
            e.allocation = a;
            rep.emit(e);
        }
    }
    s.allocation = std::move(a);
    evaluateSolution(problem, s);
    s.seconds = clock.seconds();
    return s;
}

}  // namespace qcw
