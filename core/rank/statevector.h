#pragma once
// An exact statevector simulator for QAOA: 2^n complex<double> amplitudes in an Eigen vector.
// Qubit q is bit q of the basis index (little-endian): index 5 = |...101> has qubits 0 and 2
// set. Gate conventions:
//   H                          (|0> + |1>)/sqrt2, (|0> - |1>)/sqrt2
//   RX(theta) = exp(-i theta X / 2)   = [[cos, -i sin], [-i sin, cos]](theta/2)
//   RZ(theta) = exp(-i theta Z / 2)   = diag(e^{-i theta/2}, e^{+i theta/2})
//   RZZ(theta) = exp(-i theta Z(x)Z / 2): phase e^{-i theta/2} when the bits agree, e^{+i theta/2} otherwise
//   phase(C, gamma) = exp(-i gamma C) for a diagonal C given per basis state
//   mixer(beta) = prod_q exp(-i beta X_q) = prod_q RX_q(2 beta)
#include <Eigen/Dense>

#include <complex>
#include <cstdint>
#include <random>

namespace qcw {

class StateVector {
public:
    static constexpr int kMaxQubits = 26;   // 1 GiB of amplitudes

    // |0...0> on n qubits; throws outside 1..kMaxQubits.
    explicit StateVector(int qubits);

    int qubits() const { return n_; }
    std::uint64_t dimension() const { return static_cast<std::uint64_t>(amp_.size()); }
    const Eigen::VectorXcd& amplitudes() const { return amp_; }
    std::complex<double> amplitude(std::uint64_t basis) const { return amp_[static_cast<Eigen::Index>(basis)]; }

    void setBasis(std::uint64_t basis);
    void setUniform();                      // H on every qubit of |0...0>

    void h(int q);
    void x(int q);
    void rx(int q, double theta);
    void rz(int q, double theta);
    void rzz(int q1, int q2, double theta);
    void phase(const Eigen::VectorXd& diagonal, double gamma);
    void mixer(double beta);

    double norm() const;                    // sqrt(sum |a|^2)
    Eigen::VectorXd probabilities() const;
    double expectation(const Eigen::VectorXd& diagonal) const;   // sum |a|^2 C
    // Samples a basis state from |a|^2 with our own uniform draw (reproducible).
    std::uint64_t sample(std::mt19937_64& rng) const;

private:
    void checkQubit(int q, const char* gate) const;
    int n_ = 0;
    Eigen::VectorXcd amp_;
};

}  // namespace qcw
