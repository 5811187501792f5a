// bench_rank: every rank-allocation solver on Phi-1.5-shaped groups with synthetic spectra,
// and QAOA against brute force on small instances. Prints Markdown to stdout.
//
//   bench_rank [--seed N] [--no-embeddings] [--sweeps N] [--sqa-sweeps N] [--replicas N]
//
// Phi-1.5: 24 decoder layers x {q, k, v, dense: 2048x2048; fc1: 8192x2048; fc2: 2048x8192}
// = 144 groups, plus (second table) the embedding and lm_head, 51200x2048. The spectra are
// synthetic power laws s_k = k^-alpha (1 + 0.05 noise) with alpha drawn per layer and jittered
// per matrix (seeded). Candidate ranks: multiples of 32 below the break-even rank
// r (m+n) < m n, plus keeping the matrix dense. Error of a choice: discarded weight
// sum_{k>r} s_k^2 / sum s^2; the objective is the sum over groups.
#include "rank/error_curve.h"
#include "rank/rank_problem.h"
#include "rank/solvers.h"

#include "common/run_context.h"

#include <sys/utsname.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace qcw;

namespace {

double u01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

std::vector<double> powerLaw(std::size_t n, double alpha, std::mt19937_64& rng) {
    std::vector<double> s(n);
    for (std::size_t k = 0; k < n; ++k)
        s[k] = std::pow(static_cast<double>(k + 1), -alpha) * (1.0 + 0.05 * (2.0 * u01(rng) - 1.0));
    return s;
}

RankGroup groupFor(const std::string& name, std::int64_t m, std::int64_t n, double alpha, std::mt19937_64& rng) {
    const auto spectrum = powerLaw(static_cast<std::size_t>(std::min(m, n)), alpha, rng);
    const int maxRank = maxProfitableRank(m, n);
    return makeRankGroup(name, m, n, spectrum, rankGrid(maxRank, RankGrid::multiples(32)), true);
}

RankProblem phiProblem(std::uint64_t seed, bool embeddings) {
    std::mt19937_64 rng(seed);
    RankProblem p;
    const std::int64_t d = 2048, f = 8192, vocab = 51200;
    if (embeddings) p.groups.push_back(groupFor("model.embed_tokens.weight", vocab, d, 0.5 + 0.3 * u01(rng), rng));
    for (int l = 0; l < 24; ++l) {
        const double alpha = 0.35 + 0.65 * u01(rng);
        const std::string pre = "model.layers." + std::to_string(l) + ".";
        auto jit = [&] { return alpha + 0.1 * (2.0 * u01(rng) - 1.0); };
        p.groups.push_back(groupFor(pre + "self_attn.q_proj.weight", d, d, jit(), rng));
        p.groups.push_back(groupFor(pre + "self_attn.k_proj.weight", d, d, jit(), rng));
        p.groups.push_back(groupFor(pre + "self_attn.v_proj.weight", d, d, jit(), rng));
        p.groups.push_back(groupFor(pre + "self_attn.dense.weight", d, d, jit(), rng));
        p.groups.push_back(groupFor(pre + "mlp.fc1.weight", f, d, jit(), rng));
        p.groups.push_back(groupFor(pre + "mlp.fc2.weight", d, f, jit(), rng));
    }
    if (embeddings) p.groups.push_back(groupFor("lm_head.weight", vocab, d, 0.5 + 0.3 * u01(rng), rng));
    return p;
}

std::int64_t denseParams(const RankProblem& p) {
    std::int64_t s = 0;
    for (const auto& g : p.groups) s += g.rows * g.cols;
    return s;
}

// G groups of small matrices, C candidate ranks (4, 8, 16, 32) each, budget halfway.
RankProblem smallProblem(int G, int C, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    RankProblem p;
    const int dims[] = {32, 48, 64};
    for (int g = 0; g < G; ++g) {
        const std::int64_t m = dims[rng() % 3], n = dims[rng() % 3];
        const auto s = powerLaw(static_cast<std::size_t>(std::min(m, n)), 0.3 + 0.9 * u01(rng), rng);
        std::vector<int> ranks;
        for (int c = 0; c < C; ++c) ranks.push_back(4 << c);   // 4, 8, 16, (32)
        p.groups.push_back(makeRankGroup("g" + std::to_string(g), m, n, s, ranks, false));
    }
    p.budget = p.minParams() + (p.maxParams() - p.minParams()) / 2;
    return p;
}

std::string cpuModel() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            const auto pos = line.find(':');
            return pos == std::string::npos ? line : line.substr(pos + 2);
        }
    return "unknown";
}

void runTable(const RankProblem& base, const char* title, int sweeps, int sqaSweeps, int replicas, std::uint64_t seed) {
    const std::int64_t dense = denseParams(base);
    std::printf("\n### %s\n\n%zu groups, %zu candidate choices (QUBO variables), dense parameters %lld\n\n", title,
                base.groups.size(), base.numVariables(), static_cast<long long>(dense));
    std::printf("| budget | solver | objective | gap to exact | params used | of dense | seconds | iterations |\n");
    std::printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
    for (double keep : {0.3, 0.5, 0.7}) {
        RankProblem p = base;
        p.budget = static_cast<std::int64_t>(keep * static_cast<double>(dense));
        const RankSolution ex = solveExact(p, ExactOptions(), RunContext::none());
        std::vector<RankSolution> rs{ex, solveGreedy(p, GreedyOptions(), RunContext::none()),
                                     solveAnneal(p, AnnealOptions().sweeps(sweeps).seed(seed), RunContext::none()),
                                     solveSqa(p, SqaOptions().sweeps(sqaSweeps).replicas(replicas).seed(seed),
                                              RunContext::none())};
        for (const auto& r : rs) {
            const double gap = ex.objective > 0 ? 100.0 * (r.objective - ex.objective) / ex.objective : 0.0;
            std::printf("| %d%% | %s%s | %.6f | %.3f%% | %lld | %.1f%% | %.3f | %lld |\n", static_cast<int>(keep * 100 + 0.5),
                        r.solver.c_str(), r.feasible ? "" : " (INFEASIBLE)", r.objective, gap,
                        static_cast<long long>(r.params), 100.0 * static_cast<double>(r.params) / static_cast<double>(dense),
                        r.seconds, r.iterations);
        }
        std::printf("| %d%% | qaoa | n/a | | | | | %zu qubits: beyond a statevector |\n", static_cast<int>(keep * 100 + 0.5),
                    p.numVariables());
        std::fflush(stdout);
        if (!ex.provenOptimal) std::printf("\n(exact ran with granularity %lld and is not proven optimal)\n", static_cast<long long>(ex.granularity));
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t seed = 1;
    bool embeddings = true;
    int sweeps = 20000, sqaSweeps = 3000, replicas = 16;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&] { return i + 1 < argc ? std::strtoull(argv[++i], nullptr, 10) : 0ull; };
        if (a == "--seed") seed = next();
        else if (a == "--no-embeddings") embeddings = false;
        else if (a == "--sweeps") sweeps = static_cast<int>(next());
        else if (a == "--sqa-sweeps") sqaSweeps = static_cast<int>(next());
        else if (a == "--replicas") replicas = static_cast<int>(next());
        else {
            std::fprintf(stderr, "usage: bench_rank [--seed N] [--no-embeddings] [--sweeps N] [--sqa-sweeps N] [--replicas N]\n");
            return 2;
        }
    }
    utsname u{};
    uname(&u);
    std::printf("## bench_rank\n\nMachine: %s %s %s %s; CPU: %s; %u hardware threads (single-threaded solvers)\n",
                u.sysname, u.nodename, u.release, u.machine, cpuModel().c_str(), std::thread::hardware_concurrency());
    std::printf("Settings: seed %llu, anneal %d sweeps, sqa %d sweeps x %d replicas; spectra s_k = k^-alpha, alpha in [0.35, 1.0]\n",
                static_cast<unsigned long long>(seed), sweeps, sqaSweeps, replicas);

    runTable(phiProblem(seed, false), "Phi-1.5 decoder: 144 matrices", sweeps, sqaSweeps, replicas, seed);
    if (embeddings)
        runTable(phiProblem(seed, true), "Phi-1.5 decoder + embedding + lm_head: 146 matrices", sweeps, sqaSweeps, replicas, seed);

    std::printf("\n### QAOA vs brute force (statevector, 5 random instances per row, budget halfway)\n\n");
    std::printf("| instance | qubits | p | readout = optimum | mean gap | mean P(optimum) | mean P(feasible) | P(opt) uniform | mean seconds |\n");
    std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    struct Row { int G, C, p; bool slack; };
    const Row rows[] = {{4, 2, 1, false}, {4, 2, 3, false}, {3, 3, 3, false}, {3, 2, 2, true},
                        {4, 3, 1, false}, {4, 3, 3, false}, {5, 3, 2, false}, {4, 4, 2, false}};
    for (const Row& r : rows) {
        int hits = 0, qubits = 0;
        double gap = 0, pOpt = 0, pFeas = 0, secs = 0, uniform = 0;
        const int reps = 5;
        for (int k = 0; k < reps; ++k) {
            const RankProblem p = smallProblem(r.G, r.C, seed * 1000 + static_cast<std::uint64_t>(k));
            const RankSolution bf = bruteForce(p);
            const RankSolution q = solveQaoa(
                p, QaoaOptions().layers(r.p).slackQubits(r.slack).seed(seed + static_cast<std::uint64_t>(k)), RunContext::none());
            qubits = q.qaoa->qubits;
            hits += std::abs(q.objective - bf.objective) <= 1e-12 ? 1 : 0;
            gap += bf.objective > 0 ? 100.0 * (q.objective - bf.objective) / bf.objective : 0.0;
            pOpt += q.qaoa->probOptimum;
            pFeas += q.qaoa->probFeasible;
            secs += q.seconds;
            // probability of an optimal state under uniform superposition (count / 2^n)
            int nopt = 0;
            std::vector<int> a(p.groups.size(), 0);
            while (true) {
                if (p.feasible(a) && std::abs(p.objective(a) - bf.objective) <= 1e-12) ++nopt;
                std::size_t g = 0;
                for (; g < a.size(); ++g) {
                    if (++a[g] < static_cast<int>(p.groups[g].choices.size())) break;
                    a[g] = 0;
                }
                if (g == a.size()) break;
            }
            uniform += nopt / std::ldexp(1.0, qubits);
        }
        std::printf("| %dx%d%s | %d | %d | %d/%d | %.3f%% | %.4f | %.4f | %.6f | %.3f |\n", r.G, r.C,
                    r.slack ? " (slack qubits)" : "", qubits, r.p, hits, reps, gap / reps, pOpt / reps, pFeas / reps,
                    uniform / reps, secs / reps);
        std::fflush(stdout);
    }
    return 0;
}
