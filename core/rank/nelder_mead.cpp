#include "rank/nelder_mead.h"

#include "common/error.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace qcw {

NelderMeadResult nelderMead(const std::function<double(const std::vector<double>&)>& f,
                            const std::vector<double>& x0, double step, int maxEvaluations, double tol,
                            const std::function<bool()>& shouldStop) {
    if (x0.empty()) fail("nelderMead", "empty starting point");
    if (!(step > 0.0)) fail("nelderMead", "step " + std::to_string(step) + " must be positive");
    if (maxEvaluations < 1) fail("nelderMead", "maxEvaluations " + std::to_string(maxEvaluations) + " is below 1");
    const std::size_t n = x0.size();
    NelderMeadResult res;
    auto eval = [&](const std::vector<double>& x) {
        ++res.evaluations;
        const double v = f(x);
        return std::isnan(v) ? std::numeric_limits<double>::infinity() : v;
    };
    auto stop = [&] { return res.evaluations >= maxEvaluations || (shouldStop && shouldStop()); };

    std::vector<std::vector<double>> pts(n + 1, x0);
    std::vector<double> val(n + 1);
    for (std::size_t i = 1; i <= n; ++i) pts[i][i - 1] += step;
    for (std::size_t i = 0; i <= n && !stop(); ++i) val[i] = eval(pts[i]);
    for (std::size_t i = static_cast<std::size_t>(std::min<int>(res.evaluations, static_cast<int>(n) + 1)); i <= n; ++i)
        val[i] = std::numeric_limits<double>::infinity();

    std::vector<std::size_t> order(n + 1);
    auto sortSimplex = [&] {
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return val[a] < val[b]; });
        std::vector<std::vector<double>> p2(n + 1);
        std::vector<double> v2(n + 1);
        for (std::size_t i = 0; i <= n; ++i) {
            p2[i] = pts[order[i]];
            v2[i] = val[order[i]];
        }
        pts.swap(p2);
        val.swap(v2);
    };
    auto along = [&](const std::vector<double>& c, const std::vector<double>& w, double t) {
        std::vector<double> x(n);
        for (std::size_t k = 0; k < n; ++k) x[k] = c[k] + t * (w[k] - c[k]);
        return x;
    };

    while (!stop()) {
        sortSimplex();
        double spreadX = 0.0;
        for (std::size_t i = 1; i <= n; ++i)
            for (std::size_t k = 0; k < n; ++k) spreadX = std::max(spreadX, std::abs(pts[i][k] - pts[0][k]));
        if (std::abs(val[n] - val[0]) <= tol * (1.0 + std::abs(val[0])) && spreadX <= std::sqrt(tol)) {
            res.converged = true;
            break;
        }
        std::vector<double> c(n, 0.0);   // centroid of all but the worst
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t k = 0; k < n; ++k) c[k] += pts[i][k] / static_cast<double>(n);
        const std::vector<double> xr = along(c, pts[n], -1.0);
        const double fr = eval(xr);
        if (fr < val[0]) {
            if (stop()) { pts[n] = xr; val[n] = fr; break; }
            const std::vector<double> xe = along(c, pts[n], -2.0);
            const double fe = eval(xe);
            if (fe < fr) { pts[n] = xe; val[n] = fe; } else { pts[n] = xr; val[n] = fr; }
        } else if (fr < val[n - 1]) {
            pts[n] = xr;
            val[n] = fr;
        } else {
            if (stop()) break;
            const bool outside = fr < val[n];
            const std::vector<double> xc = outside ? along(c, xr, 0.5) : along(c, pts[n], 0.5);
            const double fc = eval(xc);
            if (fc < (outside ? fr : val[n])) {
                pts[n] = xc;
                val[n] = fc;
            } else {
                for (std::size_t i = 1; i <= n && !stop(); ++i) {
                    pts[i] = along(pts[0], pts[i], 0.5);
                    val[i] = eval(pts[i]);
                }
            }
        }
    }
    sortSimplex();
    res.x = pts[0];
    res.value = val[0];
    res.stopped = shouldStop && shouldStop();
    return res;
}

}  // namespace qcw
