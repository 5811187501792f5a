// Exact dynamic programming over the multiple-choice knapsack.
//
// With bucket size u, weights w_gc = ceil(p_gc / u) and capacity W = floor(budget / u):
//   D_0(b) = 0 for 0 <= b <= W
//   D_g(b) = min_c { D_{g-1}(b - w_gc) + e_gc : w_gc <= b }
// D_G(W) is the optimum of the bucketed problem; the choices are kept per (g, b) and read back
// from b = W. Rounding weights up and the capacity down makes every bucketed-feasible
// allocation really feasible; when u divides every p_gc the bucketed problem is the real one
// and the result is the true optimum (provenOptimal). Cost: O(W * sum_g C_g) time and
// O(G * W) choice indices of memory.
#include "rank/solver_internal.h"
#include "rank/solvers.h"

#include "common/error.h"
#include "common/run_context.h"

#include <algorithm>
#include <limits>

namespace qcw {

using namespace rankdetail;

RankSolution solveExact(const RankProblem& problem, const ExactOptions& o, RunContext& ctx, const Observer& observer) {
    Stopwatch clock;
    problem.validate();
    if (o.granularity() < 0) fail("exact", "granularity " + std::to_string(o.granularity()) + " is negative");
    if (o.maxBuckets() < 1) fail("exact", "maxBuckets " + std::to_string(o.maxBuckets()) + " is below 1");
    const std::size_t G = problem.groups.size();
    // keep the choice table under ~200 M cells (800 MB) whatever maxBuckets says
    const std::int64_t cellLimit = 200'000'000;
    const std::int64_t limit = std::max<std::int64_t>(1, std::min<std::int64_t>(o.maxBuckets(), cellLimit / static_cast<std::int64_t>(G)));

    std::int64_t unit = o.granularity();
    if (unit == 0) {
        unit = parameterGcd(problem);
        if (problem.budget / unit + 1 > limit) unit = (problem.budget + limit - 1) / limit + 1;   // coarsen
    } else if (problem.budget / unit + 1 > limit) {
        fail("exact", "granularity " + std::to_string(unit) + " gives " + std::to_string(problem.budget / unit + 1) +
                          " buckets, above the limit of " + std::to_string(limit));
    }
    const std::int64_t W = problem.budget / unit;
    bool divisible = true;
    std::vector<std::vector<std::int64_t>> w(G);
    std::int64_t minW = 0;
    for (std::size_t g = 0; g < G; ++g) {
        std::int64_t lo = std::numeric_limits<std::int64_t>::max();
        for (const auto& c : problem.groups[g].choices) {
            if (c.params % unit != 0) divisible = false;
            w[g].push_back((c.params + unit - 1) / unit);
            lo = std::min(lo, w[g].back());
        }
        minW += lo;
    }

    RankSolution s;
    s.solver = "exact";
    s.granularity = unit;
    Reporter rep("exact", ctx, observer, o.reportEvery(), static_cast<long long>(G));

    auto finishCheapest = [&](bool cancelled) {
        s.allocation = problem.cheapestAllocation();
        s.cancelled = cancelled;
        s.provenOptimal = false;
        evaluateSolution(problem, s);
        s.seconds = clock.seconds();
        return s;
    };
    if (minW > W) return finishCheapest(false);   // rounding lost feasibility: only the cheapest is known to fit

    const auto cells = static_cast<std::size_t>(W + 1);
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> prev(cells, 0.0), cur(cells);
    std::vector<std::vector<std::int32_t>> choice(G, std::vector<std::int32_t>());
    for (std::size_t g = 0; g < G; ++g) {
        if (ctx.isCancelled()) return finishCheapest(true);
        auto& ch = choice[g];
        ch.assign(cells, -1);
        std::fill(cur.begin(), cur.end(), inf);
        const auto& cs = problem.groups[g].choices;
        for (std::size_t c = 0; c < cs.size(); ++c) {
            const auto wc = static_cast<std::size_t>(w[g][c]);
            if (wc >= cells) continue;
            const double e = cs[c].error;
            const double* pv = prev.data();
            double* cv = cur.data();
            std::int32_t* chp = ch.data();
            for (std::size_t b = wc; b < cells; ++b) {
                const double cand = pv[b - wc] + e;
                if (cand < cv[b]) {
                    cv[b] = cand;
                    chp[b] = static_cast<std::int32_t>(c);
                }
            }
        }
        prev.swap(cur);
        s.iterations = static_cast<long long>(g + 1);
        if (rep.due(s.iterations)) {
            SolverEvent e;
            e.iteration = s.iterations;
            e.energy = prev[cells - 1];
            e.bestObjective = g + 1 == G ? prev[cells - 1] : inf;
            rep.emit(e);
        }
    }
    std::vector<int> a(G, 0);
    std::size_t b = cells - 1;
    for (std::size_t g = G; g-- > 0;) {
        const std::int32_t c = choice[g][b];
        QCW_ASSERT(c >= 0, "dynamic-programming backtrack hit an empty cell");
        a[g] = c;
        b -= static_cast<std::size_t>(w[g][static_cast<std::size_t>(c)]);
    }
    s.allocation = std::move(a);
    s.provenOptimal = divisible;
    evaluateSolution(problem, s);
    s.seconds = clock.seconds();
    {
        SolverEvent e;
        e.iteration = s.iterations;
        e.energy = s.objective;
        e.bestObjective = s.objective;
        e.allocation = s.allocation;
        rep.emit(e);
    }
    return s;
}

}  // namespace qcw
