#pragma once
// Nelder-Mead simplex minimisation (derivative-free), used to tune QAOA angles.
#include <functional>
#include <vector>

namespace qcw {

struct NelderMeadResult {
    std::vector<double> x;
    double value = 0.0;
    int evaluations = 0;
    bool converged = false;     // simplex spread fell below the tolerance
    bool stopped = false;       // the objective asked to stop (returned NaN / cancelled)
};

// Minimises f from x0 with an initial simplex of edge `step` (per coordinate). Stops after
// maxEvaluations, when the spread of the simplex values and points falls below tol, or when
// shouldStop() returns true. Coefficients: reflection 1, expansion 2, contraction 1/2, shrink 1/2.
NelderMeadResult nelderMead(const std::function<double(const std::vector<double>&)>& f,
                            const std::vector<double>& x0, double step, int maxEvaluations,
                            double tol = 1e-8, const std::function<bool()>& shouldStop = {});

}  // namespace qcw
