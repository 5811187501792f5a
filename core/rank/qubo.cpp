#include "rank/qubo.h"

#include "common/error.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace qcw {

std::int64_t parameterGcd(const RankProblem& problem) {
    std::int64_t g = 0;
    for (const auto& grp : problem.groups)
        for (const auto& c : grp.choices) g = std::gcd(g, c.params);
    return g > 0 ? g : 1;
}

double PenaltyModel::budgetPenalty(std::int64_t params) const {
    const double v = static_cast<double>(params) / unit - capacity;
    return v > 0.0 ? budgetWeight * v * v : 0.0;
}

PenaltyModel makePenaltyModel(const RankProblem& problem, double unit, double onehotWeight, double budgetWeight) {
    problem.validate();
    if (!(unit >= 0.0) || !std::isfinite(unit)) fail("qubo", "unit " + std::to_string(unit) + " is not a finite value >= 0");
    if (!(onehotWeight >= 0.0) || !std::isfinite(onehotWeight))
        fail("qubo", "one-hot weight " + std::to_string(onehotWeight) + " is not a finite value >= 0");
    if (!(budgetWeight >= 0.0) || !std::isfinite(budgetWeight))
        fail("qubo", "budget weight " + std::to_string(budgetWeight) + " is not a finite value >= 0");
    PenaltyModel m;
    bool divisible = true;
    if (unit == 0.0) {
        m.unit = static_cast<double>(parameterGcd(problem));
    } else {
        m.unit = unit;
        for (const auto& g : problem.groups)
            for (const auto& c : g.choices) {
                const double q = static_cast<double>(c.params) / unit;
                if (q != std::floor(q)) divisible = false;
            }
    }
    const double b = static_cast<double>(problem.budget) / m.unit;
    m.capacity = divisible ? std::floor(b) : b;
    double R = 0.0, M = 0.0;
    for (const auto& g : problem.groups) {
        double lo = g.choices.front().error, hi = lo;
        for (const auto& c : g.choices) {
            lo = std::min(lo, c.error);
            hi = std::max(hi, c.error);
            M = std::max(M, std::abs(c.error));
        }
        R += hi - lo;
    }
    m.errorRange = R;
    const double tiny = std::max(1e-9, 1e-6 * (R + M));
    m.budgetWeight = budgetWeight > 0.0 ? budgetWeight : R + tiny;
    m.onehotWeight = onehotWeight > 0.0 ? onehotWeight : R + M + tiny;
    return m;
}

double Qubo::energy(const std::vector<std::uint8_t>& z) const {
    if (static_cast<int>(z.size()) != size())
        fail("qubo", "expected " + std::to_string(size()) + " bits, got " + std::to_string(z.size()));
    double e = offset;
    for (int i = 0; i < size(); ++i) {
        if (!z[static_cast<std::size_t>(i)]) continue;
        e += linear[i];
        for (int j = i + 1; j < size(); ++j)
            if (z[static_cast<std::size_t>(j)]) e += quadratic(i, j);
    }
    return e;
}

double Qubo::energy(std::uint64_t state) const {
    std::vector<std::uint8_t> z(static_cast<std::size_t>(size()));
    for (int i = 0; i < size(); ++i) z[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>((state >> i) & 1u);
    return energy(z);
}

std::vector<int> Qubo::decode(const std::vector<std::uint8_t>& z) const {
    if (static_cast<int>(z.size()) < numX)
        fail("qubo", "expected at least " + std::to_string(numX) + " bits, got " + std::to_string(z.size()));
    const int G = numX > 0 ? groupOf.back() + 1 : 0;
    std::vector<int> a(static_cast<std::size_t>(G), -1);
    for (int k = 0; k < numX; ++k) {
        if (!z[static_cast<std::size_t>(k)]) continue;
        int& slot = a[static_cast<std::size_t>(groupOf[static_cast<std::size_t>(k)])];
        if (slot >= 0) return {};
        slot = choiceOf[static_cast<std::size_t>(k)];
    }
    for (int v : a)
        if (v < 0) return {};
    return a;
}

std::vector<std::uint8_t> Qubo::encode(const std::vector<int>& allocation, std::int64_t slackValue) const {
    std::vector<std::uint8_t> z(static_cast<std::size_t>(size()), 0);
    const int G = numX > 0 ? groupOf.back() + 1 : 0;
    if (static_cast<int>(allocation.size()) != G)
        fail("qubo", "expected " + std::to_string(G) + " choices, got " + std::to_string(allocation.size()));
    for (int k = 0; k < numX; ++k)
        if (choiceOf[static_cast<std::size_t>(k)] == allocation[static_cast<std::size_t>(groupOf[static_cast<std::size_t>(k)])])
            z[static_cast<std::size_t>(k)] = 1;
    // greedy binary decomposition from the largest weight; exact for 0..S with our weights
    std::int64_t rest = slackValue;
    for (int j = numSlack - 1; j >= 0; --j) {
        const auto w = static_cast<std::int64_t>(slackWeights[static_cast<std::size_t>(j)]);
        if (rest >= w) {
            z[static_cast<std::size_t>(numX + j)] = 1;
            rest -= w;
        }
    }
    if (rest != 0) fail("qubo", "slack value " + std::to_string(slackValue) + " cannot be encoded");
    return z;
}

Qubo buildQubo(const RankProblem& problem, const QuboOptions& options, int maxVariables) {
    Qubo q;
    q.penalty = makePenaltyModel(problem, options.unit, options.onehotWeight, options.budgetWeight);
    const PenaltyModel& m = q.penalty;
    q.numX = static_cast<int>(problem.numVariables());
    if (options.slack) {
        double minP = 0.0;
        for (const auto& g : problem.groups) {
            double lo = static_cast<double>(g.choices.front().params);
            for (const auto& c : g.choices) lo = std::min(lo, static_cast<double>(c.params));
            minP += lo / m.unit;
        }
        const double S = std::floor(m.capacity - minP + 1e-9);
        if (S >= 1.0) {
            const auto Si = static_cast<std::int64_t>(S);
            int K = 0;
            while ((std::int64_t{1} << K) <= Si) ++K;   // K = floor(log2 S) + 1
            for (int j = 0; j + 1 < K; ++j) q.slackWeights.push_back(static_cast<double>(std::int64_t{1} << j));
            q.slackWeights.push_back(static_cast<double>(Si - ((std::int64_t{1} << (K - 1)) - 1)));
        }
    }
    q.numSlack = static_cast<int>(q.slackWeights.size());
    const int n = q.size();
    if (n > maxVariables)
        fail("qubo", std::to_string(n) + " variables exceed the dense-matrix limit of " + std::to_string(maxVariables));
    q.linear = Eigen::VectorXd::Zero(n);
    q.quadratic = Eigen::MatrixXd::Zero(n, n);
    // coefficient a_i of the budget sum  sum_i a_i z_i - b^
    std::vector<double> a(static_cast<std::size_t>(n), 0.0);
    int k = 0;
    for (std::size_t g = 0; g < problem.groups.size(); ++g) {
        const int first = k;
        const auto& ch = problem.groups[g].choices;
        for (std::size_t c = 0; c < ch.size(); ++c, ++k) {
            q.groupOf.push_back(static_cast<int>(g));
            q.choiceOf.push_back(static_cast<int>(c));
            q.linear[k] += ch[c].error;
            a[static_cast<std::size_t>(k)] = static_cast<double>(ch[c].params) / m.unit;
        }
        // A (sum x - 1)^2 = A (1 - sum x + 2 sum_{i<j} x_i x_j)   (x^2 = x)
        q.offset += m.onehotWeight;
        for (int i = first; i < k; ++i) {
            q.linear[i] -= m.onehotWeight;
            for (int j = i + 1; j < k; ++j) q.quadratic(i, j) += 2.0 * m.onehotWeight;
        }
    }
    for (int j = 0; j < q.numSlack; ++j) a[static_cast<std::size_t>(q.numX + j)] = q.slackWeights[static_cast<std::size_t>(j)];
    // B (sum a z - b)^2 = B (b^2 + sum (a_i^2 - 2 b a_i) z_i + 2 sum_{i<j} a_i a_j z_i z_j)
    const double B = m.budgetWeight, b = m.capacity;
    q.offset += B * b * b;
    for (int i = 0; i < n; ++i) {
        const double ai = a[static_cast<std::size_t>(i)];
        q.linear[i] += B * (ai * ai - 2.0 * b * ai);
        for (int j = i + 1; j < n; ++j) q.quadratic(i, j) += 2.0 * B * ai * a[static_cast<std::size_t>(j)];
    }
    return q;
}

double quboEnergyDirect(const RankProblem& problem, const Qubo& q, const std::vector<std::uint8_t>& z) {
    if (static_cast<int>(z.size()) != q.size())
        fail("qubo", "expected " + std::to_string(q.size()) + " bits, got " + std::to_string(z.size()));
    double obj = 0.0, onehot = 0.0, sum = 0.0;
    int k = 0;
    for (const auto& g : problem.groups) {
        int count = 0;
        for (const auto& c : g.choices) {
            if (z[static_cast<std::size_t>(k)]) {
                obj += c.error;
                sum += static_cast<double>(c.params) / q.penalty.unit;
                ++count;
            }
            ++k;
        }
        onehot += static_cast<double>((count - 1) * (count - 1));
    }
    for (int j = 0; j < q.numSlack; ++j)
        if (z[static_cast<std::size_t>(q.numX + j)]) sum += q.slackWeights[static_cast<std::size_t>(j)];
    const double r = sum - q.penalty.capacity;
    return obj + q.penalty.onehotWeight * onehot + q.penalty.budgetWeight * r * r;
}

}  // namespace qcw
