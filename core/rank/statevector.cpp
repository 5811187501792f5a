#include "rank/statevector.h"

#include "common/error.h"

#include <cmath>

namespace qcw {

using cd = std::complex<double>;

StateVector::StateVector(int qubits) : n_(qubits) {
    if (qubits < 1 || qubits > kMaxQubits)
        fail("statevector", std::to_string(qubits) + " qubits is outside 1.." + std::to_string(kMaxQubits));
    amp_ = Eigen::VectorXcd::Zero(Eigen::Index{1} << qubits);
    amp_[0] = 1.0;
}

void StateVector::checkQubit(int q, const char* gate) const {
    if (q < 0 || q >= n_)
        fail("statevector", std::string(gate) + " on qubit " + std::to_string(q) + ", expected 0.." + std::to_string(n_ - 1));
}

void StateVector::setBasis(std::uint64_t basis) {
    if (basis >= dimension())
        fail("statevector", "basis state " + std::to_string(basis) + " is outside 0.." + std::to_string(dimension() - 1));
    amp_.setZero();
    amp_[static_cast<Eigen::Index>(basis)] = 1.0;
}

void StateVector::setUniform() { amp_.setConstant(cd(1.0 / std::sqrt(static_cast<double>(amp_.size())), 0.0)); }

namespace {
// Applies the 2x2 matrix [[m00, m01], [m10, m11]] to qubit q.
void apply1(Eigen::VectorXcd& a, int q, cd m00, cd m01, cd m10, cd m11) {
    const Eigen::Index N = a.size(), bit = Eigen::Index{1} << q;
    cd* d = a.data();
    for (Eigen::Index base = 0; base < N; base += 2 * bit)
        for (Eigen::Index i = base; i < base + bit; ++i) {
            const cd a0 = d[i], a1 = d[i + bit];
            d[i] = m00 * a0 + m01 * a1;
            d[i + bit] = m10 * a0 + m11 * a1;
        }
}
}  // namespace

void StateVector::h(int q) {
    checkQubit(q, "H");
    const double s = 1.0 / std::sqrt(2.0);
    apply1(amp_, q, s, s, s, -s);
}

void StateVector::x(int q) {
    checkQubit(q, "X");
    apply1(amp_, q, 0.0, 1.0, 1.0, 0.0);
}

void StateVector::rx(int q, double theta) {
    checkQubit(q, "RX");
    const double c = std::cos(theta / 2), s = std::sin(theta / 2);
    apply1(amp_, q, c, cd(0, -s), cd(0, -s), c);
}

void StateVector::rz(int q, double theta) {
    checkQubit(q, "RZ");
    apply1(amp_, q, std::polar(1.0, -theta / 2), 0.0, 0.0, std::polar(1.0, theta / 2));
}

void StateVector::rzz(int q1, int q2, double theta) {
    checkQubit(q1, "RZZ");
    checkQubit(q2, "RZZ");
    if (q1 == q2) fail("statevector", "RZZ on the same qubit " + std::to_string(q1) + " twice");
    const cd same = std::polar(1.0, -theta / 2), diff = std::polar(1.0, theta / 2);
    for (Eigen::Index i = 0; i < amp_.size(); ++i) {
        const bool b1 = (i >> q1) & 1, b2 = (i >> q2) & 1;
        amp_[i] *= (b1 == b2) ? same : diff;
    }
}

void StateVector::phase(const Eigen::VectorXd& diagonal, double gamma) {
    if (diagonal.size() != amp_.size())
        fail("statevector", "diagonal has " + std::to_string(diagonal.size()) + " entries, expected " +
                                std::to_string(amp_.size()));
    for (Eigen::Index i = 0; i < amp_.size(); ++i) amp_[i] *= std::polar(1.0, -gamma * diagonal[i]);
}

void StateVector::mixer(double beta) {
    const double c = std::cos(beta), s = std::sin(beta);
    for (int q = 0; q < n_; ++q) apply1(amp_, q, c, cd(0, -s), cd(0, -s), c);
}

double StateVector::norm() const { return amp_.norm(); }

Eigen::VectorXd StateVector::probabilities() const { return amp_.cwiseAbs2(); }

double StateVector::expectation(const Eigen::VectorXd& diagonal) const {
    if (diagonal.size() != amp_.size())
        fail("statevector", "diagonal has " + std::to_string(diagonal.size()) + " entries, expected " +
                                std::to_string(amp_.size()));
    return amp_.cwiseAbs2().dot(diagonal);
}

std::uint64_t StateVector::sample(std::mt19937_64& rng) const {
    const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    double acc = 0.0;
    const double total = amp_.squaredNorm();
    const double target = u * total;
    for (Eigen::Index i = 0; i < amp_.size(); ++i) {
        acc += std::norm(amp_[i]);
        if (acc > target) return static_cast<std::uint64_t>(i);
    }
    return static_cast<std::uint64_t>(amp_.size() - 1);
}

}  // namespace qcw
