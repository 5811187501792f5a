#include "rank/solver_internal.h"
#include "rank/solvers.h"

#include "common/error.h"
#include "common/run_context.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qcw {

Schedule Schedule::geometric(double from, double to, int sweeps) {
    if (sweeps < 1) fail("schedule", "sweeps " + std::to_string(sweeps) + " is below 1");
    if (!(from > 0.0) || !(to > 0.0) || !std::isfinite(from) || !std::isfinite(to))
        fail("schedule", "geometric schedule needs positive finite ends, got " + std::to_string(from) + " and " +
                             std::to_string(to));
    Schedule s;
    s.kind_ = Kind::Geometric;
    s.from_ = from;
    s.to_ = to;
    s.sweeps_ = sweeps;
    return s;
}

Schedule Schedule::linear(double from, double to, int sweeps) {
    if (sweeps < 1) fail("schedule", "sweeps " + std::to_string(sweeps) + " is below 1");
    if (!std::isfinite(from) || !std::isfinite(to) || from < 0.0 || to < 0.0)
        fail("schedule", "linear schedule needs finite ends >= 0, got " + std::to_string(from) + " and " + std::to_string(to));
    Schedule s;
    s.kind_ = Kind::Linear;
    s.from_ = from;
    s.to_ = to;
    s.sweeps_ = sweeps;
    return s;
}

Schedule Schedule::custom(std::vector<double> values) {
    if (values.empty()) fail("schedule", "empty custom schedule");
    if (values.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
        fail("schedule", "custom schedule of " + std::to_string(values.size()) + " sweeps is too long");
    for (std::size_t i = 0; i < values.size(); ++i)
        if (!std::isfinite(values[i]) || values[i] < 0.0)
            fail("schedule", "value " + std::to_string(i) + " is " + std::to_string(values[i]) + ", expected finite >= 0");
    Schedule s;
    s.kind_ = Kind::Custom;
    s.sweeps_ = static_cast<int>(values.size());
    s.values_ = std::move(values);
    return s;
}

double Schedule::value(int sweep) const {
    if (sweep < 0 || sweep >= sweeps_)
        fail("schedule", "sweep " + std::to_string(sweep) + " is outside 0.." + std::to_string(sweeps_ - 1));
    const double f = sweeps_ == 1 ? 0.0 : static_cast<double>(sweep) / (sweeps_ - 1);
    switch (kind_) {
        case Kind::Geometric: return from_ * std::pow(to_ / from_, f);
        case Kind::Linear: return from_ + (to_ - from_) * f;
        case Kind::Custom: break;
    }
    return values_[static_cast<std::size_t>(sweep)];
}

double Schedule::minValue() const {
    if (kind_ != Kind::Custom) return std::min(from_, to_);
    return values_.empty() ? 0.0 : *std::min_element(values_.begin(), values_.end());
}

double trotterCoupling(double gamma, int replicas, double temperature) {
    if (replicas < 1) fail("trotterCoupling", "replicas " + std::to_string(replicas) + " is below 1");
    if (!(temperature > 0.0)) fail("trotterCoupling", "temperature " + std::to_string(temperature) + " must be positive");
    if (!(gamma > 0.0)) fail("trotterCoupling", "Gamma " + std::to_string(gamma) + " must be positive");
    const double PT = replicas * temperature;
    const double t = std::tanh(gamma / PT);
    return -0.5 * PT * std::log(std::max(t, 1e-300));
}

const std::vector<std::string>& solverNames() {
    static const std::vector<std::string> names{"exact", "greedy", "anneal", "sqa", "qaoa"};
    return names;
}

RankSolution solveRanks(const RankProblem& problem, const SolverOptions& o, RunContext& ctx) {
    const std::string& n = o.solver();
    if (n == "exact") return solveExact(problem, o.exact(), ctx, o.observer());
    if (n == "greedy") return solveGreedy(problem, o.greedy(), ctx, o.observer());
    if (n == "anneal") return solveAnneal(problem, o.anneal(), ctx, o.observer());
    if (n == "sqa") return solveSqa(problem, o.sqa(), ctx, o.observer());
    if (n == "qaoa") return solveQaoa(problem, o.qaoa(), ctx, o.observer());
    fail("solveRanks", "unknown solver \"" + n + "\", expected one of exact, greedy, anneal, sqa, qaoa");
}

namespace rankdetail {

std::vector<int> repair(const RankProblem& p, std::vector<int> a) {
    std::int64_t P = p.params(a);
    while (P > p.budget) {
        int bg = -1, bc = -1;
        double bestRate = std::numeric_limits<double>::infinity();
        for (std::size_t g = 0; g < p.groups.size(); ++g) {
            const auto& ch = p.groups[g].choices;
            const auto& cur = ch[static_cast<std::size_t>(a[g])];
            for (std::size_t c = 0; c < ch.size(); ++c) {
                if (ch[c].params >= cur.params) continue;
                const double rate = (ch[c].error - cur.error) / static_cast<double>(cur.params - ch[c].params);
                if (rate < bestRate) {
                    bestRate = rate;
                    bg = static_cast<int>(g);
                    bc = static_cast<int>(c);
                }
            }
        }
        if (bg < 0) return p.cheapestAllocation();   // cannot happen for a valid problem
        P += p.groups[static_cast<std::size_t>(bg)].choices[static_cast<std::size_t>(bc)].params -
             p.groups[static_cast<std::size_t>(bg)].choices[static_cast<std::size_t>(a[static_cast<std::size_t>(bg)])].params;
        a[static_cast<std::size_t>(bg)] = bc;
    }
    return a;
}

MoveTables::MoveTables(const RankProblem& p) {
    order.resize(p.groups.size());
    pos.resize(p.groups.size());
    for (std::size_t g = 0; g < p.groups.size(); ++g) {
        const auto& ch = p.groups[g].choices;
        auto& o = order[g];
        o.resize(ch.size());
        for (std::size_t c = 0; c < ch.size(); ++c) o[c] = static_cast<int>(c);
        std::stable_sort(o.begin(), o.end(), [&](int x, int y) {
            return ch[static_cast<std::size_t>(x)].params < ch[static_cast<std::size_t>(y)].params;
        });
        pos[g].resize(ch.size());
        for (std::size_t i = 0; i < o.size(); ++i) pos[g][static_cast<std::size_t>(o[i])] = static_cast<int>(i);
        if (ch.size() > 1) movable.push_back(static_cast<int>(g));
    }
    sortedParams.resize(p.groups.size());
    for (std::size_t g = 0; g < p.groups.size(); ++g)
        for (int c : order[g]) sortedParams[g].push_back(p.groups[g].choices[static_cast<std::size_t>(c)].params);
}

int MoveTables::fit(int g, std::int64_t maxParams) const {
    const auto& sp = sortedParams[static_cast<std::size_t>(g)];
    const auto it = std::upper_bound(sp.begin(), sp.end(), maxParams);
    if (it == sp.begin()) return -1;
    return order[static_cast<std::size_t>(g)][static_cast<std::size_t>(it - sp.begin() - 1)];
}

int MoveTables::propose(std::mt19937_64& rng, int g, int current, int dir) const {
    const auto& o = order[static_cast<std::size_t>(g)];
    const int C = static_cast<int>(o.size());
    if (uniform01(rng) < 0.5) {
        const int step = 1 + static_cast<int>(uniformIndex(rng, 2));
        int d = dir;
        if (d == 0) d = uniformIndex(rng, 2) ? 1 : -1;
        int np = pos[static_cast<std::size_t>(g)][static_cast<std::size_t>(current)] + d * step;
        np = std::min(std::max(np, 0), C - 1);
        const int c = o[static_cast<std::size_t>(np)];
        if (c != current) return c;
    }
    int c = static_cast<int>(uniformIndex(rng, static_cast<std::uint64_t>(C - 1)));
    if (c >= current) ++c;
    return c;
}

EnergyScale energyScale(const RankProblem& p, const MoveTables& t) {
    EnergyScale s;
    double sum = 0.0;
    long long n = 0;
    std::vector<double> fine;
    for (int g : t.movable) {
        const auto& ch = p.groups[static_cast<std::size_t>(g)].choices;
        for (std::size_t a = 0; a < ch.size(); ++a)
            for (std::size_t b = a + 1; b < ch.size(); ++b) {
                sum += std::abs(ch[a].error - ch[b].error);
                ++n;
            }
        const auto& o = t.order[static_cast<std::size_t>(g)];
        for (std::size_t i = 0; i + 1 < o.size(); ++i) {
            const double d = std::abs(ch[static_cast<std::size_t>(o[i])].error - ch[static_cast<std::size_t>(o[i + 1])].error);
            if (d > 0.0) fine.push_back(d);
        }
    }
    if (n > 0 && sum > 0.0) s.hot = sum / static_cast<double>(n);
    if (!fine.empty()) {
        std::nth_element(fine.begin(), fine.begin() + static_cast<std::ptrdiff_t>(fine.size() / 2), fine.end());
        s.fine = fine[fine.size() / 2];
    } else {
        s.fine = s.hot * 1e-3;
    }
    s.fine = std::min(s.fine, s.hot);
    return s;
}

}  // namespace rankdetail
}  // namespace qcw
