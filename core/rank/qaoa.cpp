// QAOA on the exact statevector simulator (statevector.h), for small instances.
//
// Qubit k < numX is the one-hot variable x_k of qubo.h (k = off_g + c); with slackQubits the
// slack bits follow. The cost Hamiltonian is diagonal, C(z) for each of the 2^n basis states:
//   slackQubits = true : the full QUBO energy E(x, s) of qubo.h
//   slackQubits = false: sum e x + A sum_g (sum_c x_gc - 1)^2 + B max(0, p^.x - b^)^2
//                        (the slack minimised out in closed form; n = sum_g C_g qubits)
// The circuit is |psi(gamma, beta)> = prod_{l=1..p} U_B(beta_l) U_C(gamma_l) H^n |0>, with
// U_C(gamma) = exp(-i gamma C / s) (s = A, so the angles live on a scale of ~1) and
// U_B(beta) = prod_q exp(-i beta X_q). Nelder-Mead minimises CVaR_alpha of C (alpha = 1:
// <psi|C|psi>) from a linear ramp
// (annealing-like) and from random starts; the best angles are kept. The readout samples
// `shots` bitstrings (seeded) and returns the best feasible allocation among them and the
// most probable feasible bitstring; probabilities of the optimum and of feasibility are read
// exactly from the statevector, the optimum itself from the enumerated diagonal.
#include "rank/nelder_mead.h"
#include "rank/qubo.h"
#include "rank/solver_internal.h"
#include "rank/solvers.h"
#include "rank/statevector.h"

#include "common/error.h"
#include "common/run_context.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qcw {

using namespace rankdetail;

RankSolution solveQaoa(const RankProblem& problem, const QaoaOptions& o, RunContext& ctx, const Observer& observer) {
    Stopwatch clock;
    problem.validate();
    if (o.layers() < 1) fail("qaoa", "layers " + std::to_string(o.layers()) + " is below 1");
    if (o.maxEvaluations() < 1) fail("qaoa", "maxEvaluations " + std::to_string(o.maxEvaluations()) + " is below 1");
    if (o.starts() < 1) fail("qaoa", "starts " + std::to_string(o.starts()) + " is below 1");
    if (o.shots() < 0) fail("qaoa", "shots " + std::to_string(o.shots()) + " is negative");
    if (o.maxQubits() < 1 || o.maxQubits() > StateVector::kMaxQubits)
        fail("qaoa", "maxQubits " + std::to_string(o.maxQubits()) + " is outside 1.." + std::to_string(StateVector::kMaxQubits));

    QuboOptions qo;
    if (o.budgetUnit() < 0.0 || !std::isfinite(o.budgetUnit()))
        fail("qaoa", "budget unit " + std::to_string(o.budgetUnit()) + " is not a finite value >= 0");
    qo.unit = o.budgetUnit() > 0.0
                  ? o.budgetUnit()
                  : std::max(static_cast<double>(parameterGcd(problem)),
                             static_cast<double>(problem.maxParams() - problem.minParams()) /
                                 static_cast<double>(problem.numVariables()));
    qo.onehotWeight = o.onehotPenalty();
    qo.budgetWeight = o.budgetPenalty();
    qo.slack = o.slackQubits();
    const std::size_t nvar = problem.numVariables();
    if (nvar > static_cast<std::size_t>(o.maxQubits()))
        fail("qaoa", "the problem needs " + std::to_string(nvar) + " qubits (" + std::to_string(problem.groups.size()) +
                         " groups), above the statevector limit of " + std::to_string(o.maxQubits()));
    const Qubo q = buildQubo(problem, qo, 4096);   // checked against maxQubits just below
    const int n = q.size();
    if (n > o.maxQubits())
        fail("qaoa", "the problem needs " + std::to_string(n) + " qubits with " + std::to_string(q.numSlack) +
                         " slack qubits, above the statevector limit of " + std::to_string(o.maxQubits()));
    const PenaltyModel& pm = q.penalty;
    const std::uint64_t N = std::uint64_t{1} << n;

    // The diagonal, feasibility and objective of every basis state, from the definitions.
    Eigen::VectorXd diag(static_cast<Eigen::Index>(N));
    std::vector<double> objOf(N, std::numeric_limits<double>::quiet_NaN());   // NaN: not feasible one-hot
    double optimum = std::numeric_limits<double>::infinity();
    {
        std::vector<double> e(static_cast<std::size_t>(q.numX)), pu(static_cast<std::size_t>(q.numX));
        for (int k = 0; k < q.numX; ++k) {
            const auto& c = problem.groups[static_cast<std::size_t>(q.groupOf[static_cast<std::size_t>(k)])]
                                .choices[static_cast<std::size_t>(q.choiceOf[static_cast<std::size_t>(k)])];
            e[static_cast<std::size_t>(k)] = c.error;
            pu[static_cast<std::size_t>(k)] = static_cast<double>(c.params) / pm.unit;
        }
        for (std::uint64_t z = 0; z < N; ++z) {
            double obj = 0.0, sum = 0.0, onehot = 0.0;
            std::int64_t params = 0;
            bool oneHot = true;
            int k = 0;
            for (const auto& g : problem.groups) {
                int count = 0;
                for (std::size_t c = 0; c < g.choices.size(); ++c, ++k)
                    if ((z >> k) & 1u) {
                        obj += e[static_cast<std::size_t>(k)];
                        sum += pu[static_cast<std::size_t>(k)];
                        params += g.choices[c].params;
                        ++count;
                    }
                onehot += static_cast<double>((count - 1) * (count - 1));
                if (count != 1) oneHot = false;
            }
            double energy;
            if (q.numSlack > 0 || o.slackQubits()) {
                for (int j = 0; j < q.numSlack; ++j)
                    if ((z >> (q.numX + j)) & 1u) sum += q.slackWeights[static_cast<std::size_t>(j)];
                const double r = sum - pm.capacity;
                energy = obj + pm.onehotWeight * onehot + pm.budgetWeight * r * r;
            } else {
                const double v = std::max(0.0, sum - pm.capacity);
                energy = obj + pm.onehotWeight * onehot + pm.budgetWeight * v * v;
            }
            diag[static_cast<Eigen::Index>(z)] = energy;
            if (oneHot && params <= problem.budget) {
                objOf[z] = obj;
                optimum = std::min(optimum, obj);
            }
        }
    }
    if (!(o.cvarAlpha() > 0.0 && o.cvarAlpha() <= 1.0))
        fail("qaoa", "CVaR alpha " + std::to_string(o.cvarAlpha()) + " is outside (0, 1]");
    std::vector<std::uint32_t> byEnergy;   // basis states sorted by energy, for CVaR
    if (o.cvarAlpha() < 1.0) {
        byEnergy.resize(N);
        for (std::uint64_t z = 0; z < N; ++z) byEnergy[z] = static_cast<std::uint32_t>(z);
        std::stable_sort(byEnergy.begin(), byEnergy.end(), [&](std::uint32_t x, std::uint32_t y) {
            return diag[static_cast<Eigen::Index>(x)] < diag[static_cast<Eigen::Index>(y)];
        });
    }
    auto cvar = [&](const StateVector& sv) {
        if (byEnergy.empty()) return sv.expectation(diag);
        const double alpha = o.cvarAlpha();
        double mass = 0.0, sum = 0.0;
        for (std::uint32_t z : byEnergy) {
            const double pz = std::norm(sv.amplitude(z));
            const double take = std::min(pz, alpha - mass);
            sum += take * diag[static_cast<Eigen::Index>(z)];
            mass += take;
            if (mass >= alpha) break;
        }
        return sum / alpha;
    };
    const double scale = pm.onehotWeight > 0.0 ? pm.onehotWeight : 1.0;
    const double tolOpt = 1e-9 * (1.0 + std::abs(optimum));

    RankSolution s;
    s.solver = "qaoa";
    const int p = o.layers();
    const long long totalEvals = static_cast<long long>(o.maxEvaluations()) * o.starts();
    Reporter rep("qaoa", ctx, observer, o.reportEvery(), totalEvals);
    StateVector psi(n);
    double bestValue = std::numeric_limits<double>::infinity();
    std::vector<double> bestAngles;
    long long evals = 0;

    auto prepare = [&](const std::vector<double>& th) -> bool {
        psi.setUniform();
        for (int l = 0; l < p; ++l) {
            if (ctx.isCancelled()) return false;
            psi.phase(diag, th[static_cast<std::size_t>(l)] / scale);
            psi.mixer(th[static_cast<std::size_t>(p + l)]);
        }
        return true;
    };
    auto objective = [&](const std::vector<double>& th) -> double {
        if (!prepare(th)) return std::numeric_limits<double>::quiet_NaN();
        const double v = cvar(psi);
        ++evals;
        if (v < bestValue) {
            bestValue = v;
            bestAngles = th;
        }
        if (rep.due(evals)) {
            SolverEvent ev;
            ev.iteration = evals;
            ev.energy = v;
            ev.bestObjective = bestValue;
            rep.emit(ev);
        }
        return v;
    };

    std::mt19937_64 rng(o.seed());
    const double pi = std::acos(-1.0);
    for (int st = 0; st < o.starts() && !ctx.isCancelled(); ++st) {
        std::vector<double> x0(static_cast<std::size_t>(2 * p));
        for (int l = 0; l < p; ++l) {
            const double f = (l + 0.5) / p;
            if (st == 0) {   // linear ramp, as a discretised anneal from the mixer to the cost
                x0[static_cast<std::size_t>(l)] = 0.8 * f;
                x0[static_cast<std::size_t>(p + l)] = 0.8 * (1.0 - f);
            } else {
                x0[static_cast<std::size_t>(l)] = uniform01(rng) * pi;
                x0[static_cast<std::size_t>(p + l)] = uniform01(rng) * pi / 2;
            }
        }
        nelderMead(objective, x0, 0.15, o.maxEvaluations(), 1e-10, [&] { return ctx.isCancelled(); });
    }
    s.iterations = evals;
    s.cancelled = ctx.isCancelled();

    QaoaInfo info;
    info.layers = p;
    info.qubits = n;
    info.optimum = optimum;
    info.evaluations = evals;
    std::vector<int> chosen;
    if (!bestAngles.empty()) {
        // the readout state; built even after a cancel (one circuit, fast for small n)
        psi.setUniform();
        for (int l = 0; l < p; ++l) {
            psi.phase(diag, bestAngles[static_cast<std::size_t>(l)] / scale);
            psi.mixer(bestAngles[static_cast<std::size_t>(p + l)]);
        }
        info.gammas.assign(bestAngles.begin(), bestAngles.begin() + p);
        info.betas.assign(bestAngles.begin() + p, bestAngles.end());
        info.expectedEnergy = psi.expectation(diag);
        const Eigen::VectorXd prob = psi.probabilities();
        std::uint64_t most = N;
        for (std::uint64_t z = 0; z < N; ++z) {
            if (std::isnan(objOf[z])) continue;
            const double pz = prob[static_cast<Eigen::Index>(z)];
            info.probFeasible += pz;
            if (objOf[z] <= optimum + tolOpt) info.probOptimum += pz;
            if (most == N || pz > prob[static_cast<Eigen::Index>(most)]) most = z;
        }
        std::vector<std::uint8_t> bits(static_cast<std::size_t>(n));
        auto decodeState = [&](std::uint64_t z) {
            for (int i = 0; i < n; ++i) bits[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>((z >> i) & 1u);
            return q.decode(bits);
        };
        double chosenObj = std::numeric_limits<double>::infinity();
        if (most != N) {
            info.mostProbableFeasible = decodeState(most);
            info.mostProbableProbability = prob[static_cast<Eigen::Index>(most)];
            chosen = info.mostProbableFeasible;
            chosenObj = objOf[most];
        }
        for (int shot = 0; shot < o.shots(); ++shot) {
            const std::uint64_t z = psi.sample(rng);
            if (!std::isnan(objOf[z]) && objOf[z] < chosenObj) {
                chosenObj = objOf[z];
                chosen = decodeState(z);
            }
        }
    }
    if (chosen.empty()) chosen = repair(problem, problem.cheapestAllocation());
    s.allocation = chosen;
    s.qaoa = info;
    evaluateSolution(problem, s);
    QCW_ASSERT(s.feasible, "qaoa returned an allocation over budget");
    s.seconds = clock.seconds();
    return s;
}

}  // namespace qcw
