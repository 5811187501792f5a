// Unit tests of core/rank: error curves, the problem and its JSON, the exact DP against brute
// force, budget safety of every solver, the QUBO energy, the statevector simulator, QAOA,
// cancellation and seed reproducibility.
#include "rank/error_curve.h"
#include "rank/nelder_mead.h"
#include "rank/qubo.h"
#include "rank/rank_problem.h"
#include "rank/solvers.h"
#include "rank/statevector.h"

#include "common/error.h"
#include "common/run_context.h"

#include <nlohmann/json.hpp>

#include <QSemaphore>
#include <QtTest>

#include <chrono>
#include <cmath>
#include <complex>
#include <random>
#include <thread>

using namespace qcw;

namespace {

double u01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Random instance: G groups, 1..maxC choices, params multiples of `unit` (1 gives arbitrary
// integers), errors decreasing with params (or random when `monotone` is false).
RankProblem randomProblem(std::mt19937_64& rng, int G, int maxC, std::int64_t unit, bool monotone, double tight) {
    RankProblem p;
    for (int g = 0; g < G; ++g) {
        RankGroup grp;
        grp.name = "g" + std::to_string(g);
        const int C = 1 + static_cast<int>(rng() % static_cast<std::uint64_t>(maxC));
        std::int64_t params = static_cast<std::int64_t>(rng() % 5) * unit;
        double err = 1.0 + u01(rng);
        for (int c = 0; c < C; ++c) {
            RankChoice ch;
            ch.rank = 8 * (c + 1);
            ch.params = params;
            ch.error = monotone ? err : u01(rng);
            grp.choices.push_back(ch);
            params += (1 + static_cast<std::int64_t>(rng() % 9)) * unit;
            err *= 0.3 + 0.6 * u01(rng);
        }
        p.groups.push_back(grp);
    }
    const std::int64_t lo = p.minParams(), hi = p.maxParams();
    p.budget = lo + static_cast<std::int64_t>(tight * static_cast<double>(hi - lo));
    return p;
}

RankProblem phiLike(std::uint64_t seed, double keep) {
    std::mt19937_64 rng(seed);
    RankProblem p;
    std::int64_t dense = 0;
    for (int l = 0; l < 8; ++l)
        for (int k = 0; k < 6; ++k) {
            const std::int64_t m = k == 4 ? 1024 : 256, n = k == 5 ? 1024 : 256;
            std::vector<double> s(256);
            const double alpha = 0.3 + 0.7 * u01(rng);
            for (std::size_t i = 0; i < s.size(); ++i) s[i] = std::pow(static_cast<double>(i + 1), -alpha);
            p.groups.push_back(makeRankGroup("l" + std::to_string(l) + "m" + std::to_string(k), m, n, s,
                                             rankGrid(maxProfitableRank(m, n), RankGrid::multiples(8)), true));
            dense += m * n;
        }
    p.budget = static_cast<std::int64_t>(keep * static_cast<double>(dense));
    return p;
}

bool near(double a, double b, double tol = 1e-9) { return std::abs(a - b) <= tol * (1.0 + std::abs(a) + std::abs(b)); }

}  // namespace

class TestRank : public QObject {
    Q_OBJECT
private slots:
    void errorCurve();
    void rankGrids();
    void validation();
    void dpMatchesBruteForce();
    void dpGranularity();
    void neverOverBudget();
    void quboEnergy();
    void statevectorGates();
    void statevectorNormalised();
    void nelderMeadQuadratic();
    void qaoaFindsOptimum();
    void qaoaSlackQubits();
    void annealersNearOptimum();
    void cancelReturnsBestSoFar();
    void seedsReproduce();
    void observerEvents();
    void solveRanksAndJson();
};

void TestRank::errorCurve() {
    const std::vector<double> s{4, 3, 2, 1};   // squares 16 9 4 1, total 30
    const auto d = discardedWeight(s, {0, 1, 2, 4, 9});
    QVERIFY(near(d[0], 1.0));
    QVERIFY(near(d[1], 14.0 / 30.0));
    QVERIFY(near(d[2], 5.0 / 30.0));
    QVERIFY(near(d[3], 0.0));
    QVERIFY(near(d[4], 0.0));
    QVERIFY(near(discardedWeight({1, 3, 2, 4}, 1), 14.0 / 30.0));   // unsorted input is sorted
    QCOMPARE(factorParams(16, 2048, 8192), std::int64_t{16} * 10240);
    QVERIFY(near(entanglementEntropy({1, 1, 1, 1}), std::log(4.0)));
    QVERIFY(near(effectiveRank({2, 2, 2, 0}), 3.0));
    QVERIFY(near(effectiveRank({5}), 1.0));
    QCOMPARE(maxProfitableRank(2048, 2048), 1023);
    QVERIFY(std::int64_t{1023} * 4096 < std::int64_t{2048} * 2048);
    QVERIFY_THROWS_EXCEPTION(Error, sortedSpectrum({1, -1}));
    QVERIFY_THROWS_EXCEPTION(Error, sortedSpectrum({0, 0}));
    const RankGroup g = makeRankGroup("w", 64, 32, s, {1, 2}, true, 2.0);
    QCOMPARE(g.choices.size(), std::size_t{3});
    QCOMPARE(g.choices[0].params, std::int64_t{96});
    QVERIFY(near(g.choices[1].error, 2.0 * 5.0 / 30.0));
    QVERIFY(g.choices[2].dense);
    QCOMPARE(g.choices[2].params, std::int64_t{64 * 32});
    QCOMPARE(g.choices[2].rank, 32);
}

void TestRank::rankGrids() {
    QCOMPARE(rankGrid(100, RankGrid::multiples(32)), (std::vector<int>{32, 64, 96}));
    RankGrid g = RankGrid::multiples(32);
    g.includeZero = true;
    g.includeMax = true;
    QCOMPARE(rankGrid(100, g), (std::vector<int>{0, 32, 64, 96, 100}));
    QCOMPARE(rankGrid(100, RankGrid::geometric(8, 2.0, 8)), (std::vector<int>{8, 16, 32, 64}));
    QCOMPARE(rankGrid(5, RankGrid::multiples(32)), (std::vector<int>{5}));
}

void TestRank::validation() {
    RankProblem p;
    QVERIFY_THROWS_EXCEPTION(Error, p.validate());
    p.groups.push_back(RankGroup{"a", 0, 0, {{1, 20, 0.5, false}, {2, 40, 0.1, false}}});
    p.groups.push_back(RankGroup{"b", 0, 0, {{1, 20, 0.5, false}}});
    p.budget = 12;
    try {
        p.validate();
        QFAIL("expected an error");
    } catch (const Error& e) {
        QCOMPARE(std::string(e.what()), std::string("rank problem: budget 12 is below the minimum allocation 40"));
    }
    p.budget = 40;
    p.validate();
    p.groups[0].choices[1].error = std::nan("");
    QVERIFY_THROWS_EXCEPTION(Error, p.validate());
    p.groups[0].choices[1].error = 0.1;
    QVERIFY_THROWS_EXCEPTION(Error, p.objective({0}));
    QVERIFY_THROWS_EXCEPTION(Error, p.objective({2, 0}));
    QVERIFY_THROWS_EXCEPTION(Error, solveRanks(p, SolverOptions().solver("dmrg"), RunContext::none()));
}

void TestRank::dpMatchesBruteForce() {
    for (std::uint64_t seed = 1; seed <= 300; ++seed) {
        std::mt19937_64 rng(seed);
        const int G = 1 + static_cast<int>(rng() % 6);
        const std::int64_t unit = seed % 3 == 0 ? 1 : (seed % 3 == 1 ? 7 : 4096);
        const double tight = seed % 5 == 0 ? 0.0 : u01(rng);
        const RankProblem p = randomProblem(rng, G, 5, unit, seed % 4 != 0, tight);
        const RankSolution bf = bruteForce(p);
        const RankSolution ex = solveExact(p, ExactOptions(), RunContext::none());
        QVERIFY2(ex.feasible, qPrintable(QString("seed %1").arg(seed)));
        QVERIFY(ex.provenOptimal);
        QVERIFY2(near(ex.objective, bf.objective, 1e-12),
                 qPrintable(QString("seed %1: dp %2 brute force %3").arg(seed).arg(ex.objective).arg(bf.objective)));
        // granularity 1 is always exact
        const RankSolution ex1 = solveExact(p, ExactOptions().granularity(1), RunContext::none());
        QVERIFY(near(ex1.objective, bf.objective, 1e-12));
    }
}

void TestRank::dpGranularity() {
    std::mt19937_64 rng(7);
    for (int k = 0; k < 50; ++k) {
        const RankProblem p = randomProblem(rng, 5, 5, 3, true, 0.2 + 0.6 * u01(rng));
        const RankSolution bf = bruteForce(p);
        // a coarse bucket that does not divide the params: still feasible, never better
        const RankSolution ex = solveExact(p, ExactOptions().granularity(5), RunContext::none());
        QVERIFY(ex.feasible);
        QVERIFY(!ex.provenOptimal);
        QVERIFY(ex.objective >= bf.objective - 1e-12);
    }
    // real shapes: the automatic bucket is the gcd (rank-32 of 2048x2048 and 2048x8192)
    RankProblem p;
    const std::vector<double> s(2048, 1.0);
    p.groups.push_back(makeRankGroup("attn", 2048, 2048, s, {32, 64}, true));
    p.groups.push_back(makeRankGroup("fc", 8192, 2048, s, {32, 64}, true));
    p.budget = p.maxParams() / 2;
    const RankSolution ex = solveExact(p, ExactOptions(), RunContext::none());
    QCOMPARE(ex.granularity, std::int64_t{65536});
    QVERIFY(ex.provenOptimal);
}

void TestRank::neverOverBudget() {
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
        std::mt19937_64 rng(seed * 7919);
        const double tight = seed % 4 == 0 ? 0.0 : (seed % 4 == 1 ? 0.02 : u01(rng));
        RankProblem p = randomProblem(rng, 2 + static_cast<int>(rng() % 5), 4, seed % 2 ? 1 : 13, seed % 3 != 0, tight);
        if (seed % 8 == 0) p.budget = p.minParams();   // the tightest budget
        std::vector<RankSolution> rs{
            solveExact(p, ExactOptions(), RunContext::none()), solveGreedy(p, GreedyOptions(), RunContext::none()),
            solveAnneal(p, AnnealOptions().sweeps(200).seed(seed), RunContext::none()),
            solveSqa(p, SqaOptions().sweeps(50).replicas(4).seed(seed), RunContext::none())};
        if (p.numVariables() <= 12)
            rs.push_back(solveQaoa(p, QaoaOptions().layers(1).maxEvaluations(60).starts(1).seed(seed), RunContext::none()));
        // a tiny penalty lets the annealers roam over budget: they must still return feasible
        rs.push_back(solveAnneal(p, AnnealOptions().sweeps(200).penalty(1e-9).seed(seed), RunContext::none()));
        rs.push_back(solveSqa(p, SqaOptions().sweeps(50).replicas(4).penalty(1e-9).seed(seed), RunContext::none()));
        for (const auto& r : rs) {
            QVERIFY2(r.feasible && r.params <= p.budget,
                     qPrintable(QString("seed %1 solver %2 params %3 budget %4").arg(seed).arg(r.solver.c_str()).arg(r.params).arg(p.budget)));
            QCOMPARE(r.params, p.params(r.allocation));
            QVERIFY(near(r.objective, p.objective(r.allocation)));
        }
    }
}

void TestRank::quboEnergy() {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
        std::mt19937_64 rng(seed);
        const RankProblem p = randomProblem(rng, 3, 3, 5, true, u01(rng));
        const Qubo q = buildQubo(p);
        // matrix form == definition for arbitrary bitstrings
        for (int k = 0; k < 200; ++k) {
            std::vector<std::uint8_t> z(static_cast<std::size_t>(q.size()));
            for (auto& b : z) b = static_cast<std::uint8_t>(rng() & 1u);
            QVERIFY(near(q.energy(z), quboEnergyDirect(p, q, z), 1e-9));
        }
        // feasible one-hot assignments with the matching slack: energy == objective; the
        // slack-free closed form is objective + B max(0, violation)^2 for every one-hot state
        std::vector<int> a(p.groups.size(), 0);
        while (true) {
            const std::int64_t P = p.params(a);
            const double units = static_cast<double>(P) / q.penalty.unit;
            if (P <= p.budget) {
                const auto slack = static_cast<std::int64_t>(std::llround(q.penalty.capacity - units));
                const auto z = q.encode(a, slack);
                QCOMPARE(q.decode(z), a);
                QVERIFY(near(q.energy(z), p.objective(a), 1e-9));
                // any other slack only adds penalty
                const auto z0 = q.encode(a, 0);
                QVERIFY(q.energy(z0) >= p.objective(a) - 1e-9);
            } else {
                const double v = units - q.penalty.capacity;
                QVERIFY(v >= 1.0 - 1e-12);
                const double e = p.objective(a) + q.penalty.budgetWeight * v * v;
                QVERIFY(near(q.energy(q.encode(a, 0)), e, 1e-9));
                QVERIFY(e > bruteForce(p).objective);   // the automatic B is strict
            }
            std::size_t g = 0;
            for (; g < a.size(); ++g) {
                if (++a[g] < static_cast<int>(p.groups[g].choices.size())) break;
                a[g] = 0;
            }
            if (g == a.size()) break;
        }
    }
}

void TestRank::statevectorGates() {
    using cd = std::complex<double>;
    const double r = 1.0 / std::sqrt(2.0);
    StateVector s(1);
    s.h(0);   // H|0> = (|0> + |1>)/sqrt2
    QVERIFY(std::abs(s.amplitude(0) - cd(r, 0)) < 1e-12);
    QVERIFY(std::abs(s.amplitude(1) - cd(r, 0)) < 1e-12);
    s.h(0);
    QVERIFY(std::abs(s.amplitude(0) - 1.0) < 1e-12);

    // RZZ(theta) on |++>: phases e^{-i theta/2} on 00, 11 and e^{+i theta/2} on 01, 10
    StateVector two(2);
    two.setUniform();
    const double th = 0.7;
    two.rzz(0, 1, th);
    const cd same = 0.5 * std::polar(1.0, -th / 2), diff = 0.5 * std::polar(1.0, th / 2);
    QVERIFY(std::abs(two.amplitude(0) - same) < 1e-12);
    QVERIFY(std::abs(two.amplitude(3) - same) < 1e-12);
    QVERIFY(std::abs(two.amplitude(1) - diff) < 1e-12);
    QVERIFY(std::abs(two.amplitude(2) - diff) < 1e-12);

    // X on qubit 1 of |00> gives index 2 (little-endian)
    StateVector x(2);
    x.x(1);
    QVERIFY(std::abs(x.amplitude(2) - 1.0) < 1e-12);

    // mixer exp(-i beta sum X) on the basis state |101> (index 5), 3 qubits:
    // amplitude of |z> = cos(b)^(3-d) (-i sin(b))^d, d = Hamming distance from 101
    StateVector m(3);
    m.setBasis(5);
    const double b = 0.3;
    m.mixer(b);
    for (std::uint64_t z = 0; z < 8; ++z) {
        const int d = __builtin_popcountll(z ^ 5u);
        const cd expect = std::pow(cd(std::cos(b), 0), 3 - d) * std::pow(cd(0, -std::sin(b)), d);
        QVERIFY2(std::abs(m.amplitude(z) - expect) < 1e-12, qPrintable(QString("z=%1").arg(z)));
    }
    // RX(pi) = -i X; RZ(theta) phases
    StateVector rx(1);
    rx.rx(0, std::acos(-1.0));
    QVERIFY(std::abs(rx.amplitude(1) - cd(0, -1)) < 1e-12);
    StateVector rz(1);
    rz.h(0);
    rz.rz(0, 1.1);
    QVERIFY(std::abs(rz.amplitude(0) - r * std::polar(1.0, -0.55)) < 1e-12);
    QVERIFY(std::abs(rz.amplitude(1) - r * std::polar(1.0, 0.55)) < 1e-12);
    // phase(C, gamma) = exp(-i gamma C) and the expectation
    StateVector ph(2);
    ph.setUniform();
    Eigen::VectorXd C(4);
    C << 0, 1, 2, 3;
    QVERIFY(near(ph.expectation(C), 1.5));
    ph.phase(C, 0.4);
    QVERIFY(std::abs(ph.amplitude(3) - 0.5 * std::polar(1.0, -1.2)) < 1e-12);
    QVERIFY_THROWS_EXCEPTION(Error, StateVector(0));
    QVERIFY_THROWS_EXCEPTION(Error, ph.h(2));
}

void TestRank::statevectorNormalised() {
    std::mt19937_64 rng(3);
    StateVector s(10);
    Eigen::VectorXd C(1 << 10);
    for (int i = 0; i < C.size(); ++i) C[i] = u01(rng) * 10;
    s.setUniform();
    for (int step = 0; step < 200; ++step) {
        const int q = static_cast<int>(rng() % 10);
        switch (rng() % 6) {
            case 0: s.h(q); break;
            case 1: s.rx(q, u01(rng) * 6); break;
            case 2: s.rz(q, u01(rng) * 6); break;
            case 3: s.rzz(q, (q + 1) % 10, u01(rng) * 6); break;
            case 4: s.phase(C, u01(rng)); break;
            default: s.mixer(u01(rng)); break;
        }
        QVERIFY(std::abs(s.norm() - 1.0) < 1e-10);
    }
    QVERIFY(near(s.probabilities().sum(), 1.0));
}

void TestRank::nelderMeadQuadratic() {
    const auto f = [](const std::vector<double>& x) {
        return (x[0] - 1) * (x[0] - 1) + 3 * (x[1] + 2) * (x[1] + 2) + 0.5 * x[0] * x[1];
    };
    const NelderMeadResult r = nelderMead(f, {0, 0}, 0.5, 2000, 1e-12);
    // minimum of the quadratic: grad = 0 -> 2(x-1) + 0.5 y = 0, 6(y+2) + 0.5 x = 0
    const double y = -12.5 / 5.875, x = 1 - 0.25 * y;
    QVERIFY(std::abs(r.x[0] - x) < 1e-4);
    QVERIFY(std::abs(r.x[1] - y) < 1e-4);
}

namespace {
RankProblem smallSpectral(int G, int C, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    RankProblem p;
    const int dims[] = {32, 48, 64};
    for (int g = 0; g < G; ++g) {
        const std::int64_t m = dims[rng() % 3], n = dims[rng() % 3];
        std::vector<double> s(static_cast<std::size_t>(std::min(m, n)));
        const double alpha = 0.3 + 0.9 * u01(rng);
        for (std::size_t k = 0; k < s.size(); ++k) s[k] = std::pow(static_cast<double>(k + 1), -alpha) * (1 + 0.05 * u01(rng));
        std::vector<int> ranks;
        for (int c = 0; c < C; ++c) ranks.push_back(4 << c);
        p.groups.push_back(makeRankGroup("g" + std::to_string(g), m, n, s, ranks, false));
    }
    p.budget = p.minParams() + (p.maxParams() - p.minParams()) / 2;
    return p;
}
}  // namespace

void TestRank::qaoaFindsOptimum() {
    // 4 groups x 2 choices = 8 qubits, p = 3: the readout (best of 1024 shots and the most
    // probable feasible state) is the brute-force optimum, and the optimum is amplified far
    // above its uniform-superposition probability.
    int hits = 0;
    double amplification = 0.0;
    for (std::uint64_t k = 0; k < 5; ++k) {
        const RankProblem p = smallSpectral(4, 2, 1000 + k);
        const RankSolution bf = bruteForce(p);
        const RankSolution q = solveQaoa(p, QaoaOptions().layers(3).seed(k + 1), RunContext::none());
        QVERIFY(q.qaoa.has_value());
        QCOMPARE(q.qaoa->qubits, 8);
        QVERIFY(near(q.qaoa->optimum, bf.objective, 1e-12));
        QVERIFY(q.feasible);
        if (near(q.objective, bf.objective, 1e-12)) ++hits;
        amplification += q.qaoa->probOptimum * 256.0;   // uniform: 1/256 per optimal state
        QVERIFY(q.qaoa->probFeasible > 0.0 && q.qaoa->probFeasible <= 1.0 + 1e-12);
        QCOMPARE(static_cast<int>(q.qaoa->gammas.size()), 3);
    }
    QVERIFY2(hits >= 4, qPrintable(QString("readout hit the optimum %1/5 times").arg(hits)));
    QVERIFY2(amplification / 5 > 2.0, qPrintable(QString("mean amplification %1").arg(amplification / 5)));
}

void TestRank::qaoaSlackQubits() {
    const RankProblem p = smallSpectral(3, 2, 77);
    const RankSolution bf = bruteForce(p);
    const RankSolution q = solveQaoa(p, QaoaOptions().layers(2).slackQubits(true).seed(3), RunContext::none());
    QVERIFY(q.qaoa->qubits > 6);
    QVERIFY(q.feasible);
    QVERIFY(near(q.qaoa->optimum, bf.objective, 1e-12));
    // too many qubits is an error naming the count
    const RankProblem big = smallSpectral(8, 3, 1);
    try {
        solveQaoa(big, QaoaOptions(), RunContext::none());
        QFAIL("expected an error");
    } catch (const Error& e) {
        QVERIFY(std::string(e.what()).find("24 qubits") != std::string::npos);
    }
}

void TestRank::annealersNearOptimum() {
    for (double keep : {0.3, 0.6}) {
        const RankProblem p = phiLike(11, keep);
        const RankSolution ex = solveExact(p, ExactOptions(), RunContext::none());
        QVERIFY(ex.provenOptimal);
        const RankSolution gr = solveGreedy(p, GreedyOptions(), RunContext::none());
        const RankSolution sa = solveAnneal(p, AnnealOptions().sweeps(5000).seed(2), RunContext::none());
        const RankSolution sq = solveSqa(p, SqaOptions().sweeps(800).replicas(8).seed(2), RunContext::none());
        for (const auto* r : {&gr, &sa, &sq}) {
            QVERIFY(r->feasible);
            QVERIFY(r->objective >= ex.objective - 1e-9);
        }
        QVERIFY2(sa.objective <= ex.objective * 1.02, qPrintable(QString("anneal gap %1").arg(sa.objective / ex.objective - 1)));
        QVERIFY2(sq.objective <= ex.objective * 1.02, qPrintable(QString("sqa gap %1").arg(sq.objective / ex.objective - 1)));
    }
}

void TestRank::cancelReturnsBestSoFar() {
    const RankProblem p = phiLike(5, 0.5);
    // Another thread cancels the run at a known point: when the solver's first progress event
    // arrives (the solver waits in the event until the cancel is made). The solver must stop
    // at its next check, within one sweep or evaluation, with its best feasible allocation.
    struct Stopped {
        RankSolution r;
        long long cancelledAt = -1;  // the iteration of the event the cancel was made in
    };
    auto cancelled = [&](const std::function<RankSolution(RunContext&)>& run) {
        RunContext ctx;
        QSemaphore due, done;
        Stopped c;
        ctx.setCallback([&](const qcw::Progress& pr) {
            if (c.cancelledAt >= 0) return;
            c.cancelledAt = pr.step;
            due.release();
            done.acquire();
        });
        std::thread canceller([&] {
            due.acquire();
            ctx.cancel();
            done.release();
        });
        c.r = run(ctx);
        if (c.cancelledAt < 0) due.release();  // no event came: free the canceller
        canceller.join();
        return c;
    };
    auto check = [&](const Stopped& c, const char* name) {
        QVERIFY2(c.cancelledAt >= 1, name);
        QVERIFY2(c.r.cancelled, name);
        QVERIFY2(c.r.feasible, name);
        QVERIFY2(!c.r.allocation.empty(), name);
        QVERIFY2(c.r.iterations <= c.cancelledAt + 1, qPrintable(QString("%1 ran to iteration %2 after a cancel at %3")
                                                                     .arg(name)
                                                                     .arg(c.r.iterations)
                                                                     .arg(c.cancelledAt)));
    };
    const Stopped sa = cancelled(
        [&](RunContext& c) { return solveAnneal(p, AnnealOptions().sweeps(100'000'000).reportEvery(20), c); });
    check(sa, "anneal");
    QVERIFY(sa.r.objective <= p.objective(p.cheapestAllocation()));   // best so far, at least the start
    check(cancelled([&](RunContext& c) { return solveSqa(p, SqaOptions().sweeps(100'000'000).reportEvery(20), c); }),
          "sqa");
    const RankProblem q44 = smallSpectral(4, 4, 3);
    check(cancelled([&](RunContext& c) {
              return solveQaoa(q44, QaoaOptions().maxEvaluations(1'000'000).starts(50).reportEvery(20), c);
          }),
          "qaoa");
    // a context cancelled before the start: every solver returns at once, feasible
    RunContext pre;
    pre.cancel();
    for (const auto& n : solverNames()) {
        const RankProblem& q = n == "qaoa" ? smallSpectral(3, 3, 1) : p;
        const RankSolution r = solveRanks(q, SolverOptions().solver(n), pre);
        QVERIFY2(r.cancelled && r.feasible, n.c_str());
    }
}

void TestRank::seedsReproduce() {
    const RankProblem p = phiLike(9, 0.4);
    const auto a1 = solveAnneal(p, AnnealOptions().sweeps(500).seed(42), RunContext::none());
    const auto a2 = solveAnneal(p, AnnealOptions().sweeps(500).seed(42), RunContext::none());
    QCOMPARE(a1.allocation, a2.allocation);
    QCOMPARE(a1.objective, a2.objective);
    const auto s1 = solveSqa(p, SqaOptions().sweeps(100).replicas(4).seed(42), RunContext::none());
    const auto s2 = solveSqa(p, SqaOptions().sweeps(100).replicas(4).seed(42), RunContext::none());
    QCOMPARE(s1.allocation, s2.allocation);
    QCOMPARE(s1.objective, s2.objective);
    const RankProblem small = smallSpectral(4, 2, 5);
    const auto q1 = solveQaoa(small, QaoaOptions().layers(2).seed(9), RunContext::none());
    const auto q2 = solveQaoa(small, QaoaOptions().layers(2).seed(9), RunContext::none());
    QCOMPARE(q1.allocation, q2.allocation);
    QCOMPARE(q1.qaoa->gammas, q2.qaoa->gammas);
    QCOMPARE(q1.qaoa->expectedEnergy, q2.qaoa->expectedEnergy);
    QCOMPARE(a1.iterations, a2.iterations);
}

void TestRank::observerEvents() {
    const RankProblem p = phiLike(2, 0.5);
    std::vector<SolverEvent> events;
    int progress = 0;
    RunContext ctx([&](const Progress& pr) {
        ++progress;
        QVERIFY(pr.stage.rfind("rank:", 0) == 0);
    });
    const auto r = solveRanks(p, SolverOptions().solver("anneal").anneal(AnnealOptions().sweeps(1000).reportEvery(100))
                                     .observer([&](const SolverEvent& e) { events.push_back(e); }),
                              ctx);
    QCOMPARE(static_cast<int>(events.size()), 10);
    QCOMPARE(progress, 10);
    for (std::size_t i = 0; i < events.size(); ++i) {
        QCOMPARE(events[i].iteration, static_cast<long long>(100 * (i + 1)));
        QCOMPARE(events[i].allocation.size(), p.groups.size());
        QVERIFY(events[i].temperature > 0);
        if (i) QVERIFY(events[i].bestObjective <= events[i - 1].bestObjective);
    }
    QVERIFY(near(events.back().bestObjective, r.objective, 1e-9));
    // cancelling from the observer stops the run at the next check
    RunContext c2;
    int seen = 0;
    const auto r2 = solveRanks(p, SolverOptions().solver("sqa").sqa(SqaOptions().sweeps(100000).reportEvery(1))
                                      .observer([&](const SolverEvent&) { if (++seen == 5) c2.cancel(); }),
                               c2);
    QVERIFY(r2.cancelled);
    QCOMPARE(r2.iterations, 5LL);
    QVERIFY(r2.feasible);
}

void TestRank::solveRanksAndJson() {
    const RankProblem p = phiLike(4, 0.5);
    for (const auto& n : solverNames()) {
        if (n == "qaoa") continue;
        const RankSolution r = solveRanks(p, SolverOptions().solver(n).anneal(AnnealOptions().sweeps(300))
                                                 .sqa(SqaOptions().sweeps(50).replicas(4)), RunContext::none());
        QCOMPARE(r.solver, n);
        QVERIFY(r.feasible);
        const auto j = nlohmann::json::parse(toJson(p, r));
        QCOMPARE(j["solver"].get<std::string>(), n);
        QVERIFY(near(j["objective"].get<double>(), r.objective));
        QCOMPARE(j["params_after"].get<std::int64_t>(), r.params);
        QCOMPARE(j["allocation"].size(), p.groups.size());
        QCOMPARE(j["allocation"][0]["group"].get<std::string>(), p.groups[0].name);
        QCOMPARE(j["allocation"][0]["rank"].get<int>(), p.ranks(r.allocation)[0]);
        QVERIFY(j.contains("seconds"));
    }
    const RankProblem small = smallSpectral(3, 2, 8);
    const RankSolution q = solveRanks(small, SolverOptions().solver("qaoa").qaoa(QaoaOptions().layers(1)), RunContext::none());
    const auto j = nlohmann::json::parse(toJson(small, q));
    QCOMPARE(j["qaoa"]["layers"].get<int>(), 1);
    QVERIFY(j["qaoa"].contains("prob_optimum"));
}

QTEST_APPLESS_MAIN(TestRank)
#include "test_rank.moc"
