// Simulated annealing (anneal) and path-integral simulated quantum annealing (sqa).
//
// Both search one-hot states only: a move switches one group's choice, or several groups'
// choices at once (a balanced move that keeps the total at or just under the budget, see
// propose()). The energy of a state is the slack-eliminated QUBO energy of qubo.h,
//   E(a) = sum_g e_{g,a_g} + B * max(0, sum_g p_{g,a_g} / u - b^)^2,
// the best FEASIBLE state ever visited is returned (a final infeasible state is repaired and
// compared as well), and the starting state is the cheapest allocation, which always fits.
//
// SQA (Suzuki-Trotter): P replicas a^1..a^P of the classical system at temperature P*T, with
// neighbouring replicas (periodic in k) coupled through the one-hot spins sigma = 2x - 1:
//   H_eff = sum_k E(a^k) - J_perp sum_k sum_{g,c} sigma^k_gc sigma^{k+1}_gc,
//   J_perp(Gamma) = -(P T / 2) ln tanh(Gamma / (P T)).
// For one-hot groups sum_c sigma^k_gc sigma^{k+1}_gc = C_g - 4 [a^k_g != a^{k+1}_g], so a
// move of replica k changes the coupling energy by 4 J_perp (change in the number of
// disagreeing neighbours). Gamma falls on the schedule; at small Gamma the replicas lock.
// Each sweep also tries one global move per group (the same switch in every replica).
#include "rank/solver_internal.h"
#include "rank/solvers.h"

#include "common/error.h"
#include "common/run_context.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qcw {

using namespace rankdetail;

namespace {

constexpr int kMaxChain = 24;

// A move: up to kMaxChain (group, new choice) switches on distinct groups.
struct Candidate {
    int n = 0;
    int g[kMaxChain];
    int c[kMaxChain];
    void add(int group, int choice) {
        g[n] = group;
        c[n] = choice;
        ++n;
    }
    bool has(int group) const {
        for (int i = 0; i < n; ++i)
            if (g[i] == group) return true;
        return false;
    }
};

// Proposes a move for allocation a using P parameters. A single move switches one group to
// a neighbour or random choice. A balanced move (probability pairFraction) does the same and
// then compensates: when the switch freed parameters, one more random group takes the choice
// that brings the total closest to the budget from below; when it overflows the budget, up to
// kMaxChain - 1 further random groups step down (each to the largest choice that clears the
// overflow, at most two positions down the parameter order) until the total fits again. Such ejection chains let a
// group make a large jump (for instance to dense) that single switches cannot reach without
// crossing the budget.
Candidate propose(std::mt19937_64& rng, const RankProblem& p, const MoveTables& t, const std::vector<int>& a,
                  std::int64_t P, double pairFraction) {
    Candidate m;
    const auto nm = static_cast<std::uint64_t>(t.movable.size());
    const int g1 = t.movable[static_cast<std::size_t>(uniformIndex(rng, nm))];
    const int c1 = t.propose(rng, g1, a[static_cast<std::size_t>(g1)], 0);
    m.add(g1, c1);
    if (nm < 2 || !(uniform01(rng) < pairFraction)) return m;
    auto params = [&](int g, int c) {
        return p.groups[static_cast<std::size_t>(g)].choices[static_cast<std::size_t>(c)].params;
    };
    std::int64_t total = P + params(g1, c1) - params(g1, a[static_cast<std::size_t>(g1)]);
    const bool spend = total <= p.budget;
    for (int tries = 0; m.n < kMaxChain && tries < 2 * kMaxChain; ++tries) {
        if (!spend && total <= p.budget) break;
        const int g = t.movable[static_cast<std::size_t>(uniformIndex(rng, nm))];
        if (m.has(g)) continue;
        const int cur = a[static_cast<std::size_t>(g)];
        int c = t.fit(g, params(g, cur) + (p.budget - total));
        if (!spend) {   // give back with small steps: at most two positions down per group
            const auto& pos = t.pos[static_cast<std::size_t>(g)];
            const int lowest = std::max(0, pos[static_cast<std::size_t>(cur)] - 2);
            if (c < 0 || pos[static_cast<std::size_t>(c)] < lowest) c = t.order[static_cast<std::size_t>(g)][static_cast<std::size_t>(lowest)];
        }
        if (c < 0) continue;
        if (c != cur) {
            m.add(g, c);
            total += params(g, c) - params(g, cur);
        }
        if (spend) break;
    }
    return m;
}

struct Delta {
    double obj = 0.0;
    std::int64_t params = 0;
};

Delta deltaOf(const RankProblem& p, const std::vector<int>& a, const Candidate& m) {
    Delta d;
    for (int i = 0; i < m.n; ++i) {
        const auto& ch = p.groups[static_cast<std::size_t>(m.g[i])].choices;
        const auto& nw = ch[static_cast<std::size_t>(m.c[i])];
        const auto& old = ch[static_cast<std::size_t>(a[static_cast<std::size_t>(m.g[i])])];
        d.obj += nw.error - old.error;
        d.params += nw.params - old.params;
    }
    return d;
}

void applyMove(std::vector<int>& a, const Candidate& m) {
    for (int i = 0; i < m.n; ++i) a[static_cast<std::size_t>(m.g[i])] = m.c[i];
}

bool metropolis(std::mt19937_64& rng, double dE, double T) {
    if (dE <= 0.0) return true;
    if (!(T > 0.0)) return false;
    return uniform01(rng) < std::exp(-dE / T);
}

// The best feasible allocation seen so far.
struct Best {
    std::vector<int> a;
    double obj = std::numeric_limits<double>::infinity();
    void offer(const std::vector<int>& x, double o) {
        if (o < obj) {
            obj = o;
            a = x;
        }
    }
};

void checkCommon(const char* who, int sweeps, double pairFraction, double penalty) {
    if (sweeps < 1) fail(who, "sweeps " + std::to_string(sweeps) + " is below 1");
    if (!(pairFraction >= 0.0 && pairFraction <= 1.0))
        fail(who, "pair-move fraction " + std::to_string(pairFraction) + " is outside 0..1");
    if (!(penalty >= 0.0) || !std::isfinite(penalty))
        fail(who, "penalty " + std::to_string(penalty) + " is not a finite value >= 0");
}

RankSolution finish(const RankProblem& problem, RankSolution s, const Best& best, const Stopwatch& clock) {
    s.allocation = best.a;
    evaluateSolution(problem, s);
    QCW_ASSERT(s.feasible, "annealer returned an allocation over budget");
    s.seconds = clock.seconds();
    return s;
}

}  // namespace

RankSolution solveAnneal(const RankProblem& problem, const AnnealOptions& o, RunContext& ctx, const Observer& observer) {
    Stopwatch clock;
    problem.validate();
    checkCommon("anneal", o.sweeps(), o.pairMoveFraction(), o.penalty());
    if (o.restarts() < 1) fail("anneal", "restarts " + std::to_string(o.restarts()) + " is below 1");
    const PenaltyModel pm = makePenaltyModel(problem, 0.0, 0.0, o.penalty());
    const MoveTables t(problem);
    Schedule sched = o.schedule();
    if (sched.empty()) {
        const EnergyScale es = energyScale(problem, t);
        const double t0 = o.tFrom() > 0.0 ? o.tFrom() : es.hot;
        const double t1 = o.tTo() > 0.0 ? o.tTo() : std::min(t0, 0.02 * es.fine);
        sched = Schedule::geometric(t0, t1, o.sweeps());
    }
    const int S = sched.sweeps();
    const long long total = static_cast<long long>(S) * o.restarts();
    const long long every = o.reportEvery() > 0 ? o.reportEvery() : std::max<long long>(1, total / 100);
    Reporter rep("anneal", ctx, observer, every, total);

    RankSolution s;
    s.solver = "anneal";
    std::mt19937_64 rng(o.seed());
    Best best;
    const std::vector<int> cheapest = problem.cheapestAllocation();
    best.offer(cheapest, problem.objective(cheapest));
    const std::size_t G = problem.groups.size();
    const std::size_t movesPerSweep = std::max<std::size_t>(1, G);

    for (int r = 0; r < o.restarts() && !s.cancelled; ++r) {
        std::vector<int> a = cheapest;   // every restart starts here, with the RNG running on
        double obj = problem.objective(a);
        std::int64_t P = problem.params(a);
        if (P <= problem.budget) best.offer(a, obj);
        for (int sw = 0; sw < S && !t.movable.empty(); ++sw) {
            if (ctx.isCancelled()) {
                s.cancelled = true;
                break;
            }
            const double T = sched.value(sw);
            for (std::size_t m = 0; m < movesPerSweep; ++m) {
                const Candidate c = propose(rng, problem, t, a, P, o.pairMoveFraction());
                const Delta d = deltaOf(problem, a, c);
                const double dE = d.obj + pm.budgetPenalty(P + d.params) - pm.budgetPenalty(P);
                if (!metropolis(rng, dE, T)) continue;
                applyMove(a, c);
                obj += d.obj;
                P += d.params;
                if (P <= problem.budget && obj < best.obj) best.offer(a, problem.objective(a));
            }
            ++s.iterations;
            if (rep.due(s.iterations)) {
                SolverEvent e;
                e.iteration = s.iterations;
                e.energy = obj + pm.budgetPenalty(P);
                e.bestObjective = best.obj;
                e.allocation = a;
                e.temperature = T;
                rep.emit(e);
            }
        }
        if (P > problem.budget) {
            const std::vector<int> fixed = repair(problem, a);
            best.offer(fixed, problem.objective(fixed));
        }
    }
    return finish(problem, s, best, clock);
}

RankSolution solveSqa(const RankProblem& problem, const SqaOptions& o, RunContext& ctx, const Observer& observer) {
    Stopwatch clock;
    problem.validate();
    checkCommon("sqa", o.sweeps(), o.pairMoveFraction(), o.penalty());
    if (o.replicas() < 2) fail("sqa", "replicas " + std::to_string(o.replicas()) + " is below 2");
    if (o.temperature() < 0.0 || !std::isfinite(o.temperature()))
        fail("sqa", "temperature " + std::to_string(o.temperature()) + " is not a finite value >= 0");
    const int Pn = o.replicas();
    const PenaltyModel pm = makePenaltyModel(problem, 0.0, 0.0, o.penalty());
    const MoveTables t(problem);
    const EnergyScale es = energyScale(problem, t);
    // T: by default 1/300 of the median error step between neighbouring choices, cold enough
    // that the locked replicas settle the fine budget balance; each slice feels P T.
    const double T = o.temperature() > 0.0 ? o.temperature() : es.fine / 300.0;
    const double PT = Pn * T;
    Schedule sched = o.schedule();
    if (sched.empty()) {
        const double g0 = o.gammaFrom() > 0.0 ? o.gammaFrom() : 3.0 * PT;
        const double g1 = o.gammaTo() > 0.0 ? o.gammaTo() : 1e-3 * PT;
        sched = Schedule::linear(g0, g1, o.sweeps());
    }
    if (!(sched.minValue() > 0.0))
        fail("sqa", "transverse field " + std::to_string(sched.minValue()) + " in the schedule must be positive");
    const int S = sched.sweeps();
    const long long every = o.reportEvery() > 0 ? o.reportEvery() : std::max<long long>(1, S / 100);
    Reporter rep("sqa", ctx, observer, every, S);

    RankSolution s;
    s.solver = "sqa";
    std::mt19937_64 rng(o.seed());
    const std::size_t G = problem.groups.size();
    const std::vector<int> cheapest = problem.cheapestAllocation();
    Best best;
    best.offer(cheapest, problem.objective(cheapest));
    std::vector<std::vector<int>> a(static_cast<std::size_t>(Pn), cheapest);
    std::vector<double> obj(static_cast<std::size_t>(Pn), problem.objective(cheapest));
    std::vector<std::int64_t> P(static_cast<std::size_t>(Pn), problem.params(cheapest));
    auto rep_k = [&](int k) { return static_cast<std::size_t>((k + Pn) % Pn); };
    // number of disagreeing neighbours of choice c for group g in replica k
    auto disagree = [&](int k, int g, int c) {
        const auto gs = static_cast<std::size_t>(g);
        return (a[rep_k(k - 1)][gs] != c ? 1 : 0) + (a[rep_k(k + 1)][gs] != c ? 1 : 0);
    };

    for (int sw = 0; sw < S && !t.movable.empty(); ++sw) {
        if (ctx.isCancelled()) {
            s.cancelled = true;
            break;
        }
        const double gamma = sched.value(sw);
        const double J = trotterCoupling(gamma, Pn, T);
        for (int k = 0; k < Pn; ++k) {
            auto& ak = a[static_cast<std::size_t>(k)];
            for (std::size_t m = 0; m < G; ++m) {
                const Candidate c = propose(rng, problem, t, ak, P[static_cast<std::size_t>(k)], o.pairMoveFraction());
                const Delta d = deltaOf(problem, ak, c);
                const std::int64_t Pk = P[static_cast<std::size_t>(k)];
                double dH = d.obj + pm.budgetPenalty(Pk + d.params) - pm.budgetPenalty(Pk);
                int dd = 0;
                for (int i = 0; i < c.n; ++i)
                    dd += disagree(k, c.g[i], c.c[i]) - disagree(k, c.g[i], ak[static_cast<std::size_t>(c.g[i])]);
                dH += 4.0 * J * dd;
                if (!metropolis(rng, dH, PT)) continue;
                applyMove(ak, c);
                obj[static_cast<std::size_t>(k)] += d.obj;
                P[static_cast<std::size_t>(k)] += d.params;
                if (P[static_cast<std::size_t>(k)] <= problem.budget && obj[static_cast<std::size_t>(k)] < best.obj)
                    best.offer(ak, problem.objective(ak));
            }
        }
        // global moves: the same switch of group g in every replica
        for (std::size_t m = 0; m < G; ++m) {
            const int g = t.movable[static_cast<std::size_t>(uniformIndex(rng, t.movable.size()))];
            const auto gs = static_cast<std::size_t>(g);
            const int c = t.propose(rng, g, a[0][gs], 0);
            const auto& ch = problem.groups[gs].choices;
            double dH = 0.0;
            int before = 0;
            for (int k = 0; k < Pn; ++k) {
                const auto ks = static_cast<std::size_t>(k);
                const auto& old = ch[static_cast<std::size_t>(a[ks][gs])];
                const auto& nw = ch[static_cast<std::size_t>(c)];
                dH += nw.error - old.error + pm.budgetPenalty(P[ks] + nw.params - old.params) - pm.budgetPenalty(P[ks]);
                before += a[ks][gs] != a[rep_k(k + 1)][gs] ? 1 : 0;
            }
            dH -= 4.0 * J * before;
            if (!metropolis(rng, dH, PT)) continue;
            for (int k = 0; k < Pn; ++k) {
                const auto ks = static_cast<std::size_t>(k);
                const auto& old = ch[static_cast<std::size_t>(a[ks][gs])];
                obj[ks] += ch[static_cast<std::size_t>(c)].error - old.error;
                P[ks] += ch[static_cast<std::size_t>(c)].params - old.params;
                a[ks][gs] = c;
                if (P[ks] <= problem.budget && obj[ks] < best.obj) best.offer(a[ks], problem.objective(a[ks]));
            }
        }
        ++s.iterations;
        if (rep.due(s.iterations)) {
            int kb = 0;
            double eb = std::numeric_limits<double>::infinity();
            for (int k = 0; k < Pn; ++k) {
                const double e = obj[static_cast<std::size_t>(k)] + pm.budgetPenalty(P[static_cast<std::size_t>(k)]);
                if (e < eb) { eb = e; kb = k; }
            }
            SolverEvent e;
            e.iteration = s.iterations;
            e.energy = eb;
            e.bestObjective = best.obj;
            e.allocation = a[static_cast<std::size_t>(kb)];
            e.temperature = T;
            e.gamma = gamma;
            rep.emit(e);
        }
    }
    for (int k = 0; k < Pn; ++k)
        if (P[static_cast<std::size_t>(k)] > problem.budget) {
            const std::vector<int> fixed = repair(problem, a[static_cast<std::size_t>(k)]);
            best.offer(fixed, problem.objective(fixed));
        }
    return finish(problem, s, best, clock);
}

}  // namespace qcw
