// Example decomposition plugin: brings its own per-matrix factorization (a truncated SVD by
// Eigen's divide-and-conquer BDCSVD, split symmetrically as U sqrt(S) and sqrt(S) V^T) through
// CompressOptions::factorizer. The core chooses the rank of every matrix (the uniform ranks
// SVD would get at the kept fraction), calls the factorizer on its worker thread, checks the
// factors and stores them as a low-rank layer. Copy this folder to start a plugin of your own.
#include "ui/decomposition_plugin.h"

#include <Eigen/SVD>

#include <QCheckBox>
#include <QObject>
#include <QVBoxLayout>
#include <QWidget>

#include <algorithm>
#include <cmath>

namespace {

qcw::MatrixFactors eigenSvd(const float* w, std::int64_t rows, std::int64_t cols, int rank, bool balanced) {
    using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const Mat a = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(w, rows, cols)
                      .cast<double>();
    Eigen::BDCSVD<Mat> svd(a, Eigen::ComputeThinU | Eigen::ComputeThinV);
    const int r = static_cast<int>(std::min<std::int64_t>(rank, svd.singularValues().size()));
    qcw::MatrixFactors f;
    f.rank = r;
    f.left.resize(static_cast<std::size_t>(rows * r));
    f.right.resize(static_cast<std::size_t>(r) * static_cast<std::size_t>(cols));
    for (int k = 0; k < r; ++k) {
        const double s = svd.singularValues()(k);
        const double ls = balanced ? std::sqrt(s) : s, rs = balanced ? std::sqrt(s) : 1.0;
        for (std::int64_t i = 0; i < rows; ++i) f.left[static_cast<std::size_t>(i * r + k)] = float(svd.matrixU()(i, k) * ls);
        for (std::int64_t j = 0; j < cols; ++j)
            f.right[static_cast<std::size_t>(k * cols + j)] = float(svd.matrixV()(j, k) * rs);
    }
    return f;
}

}  // namespace

class EigenSvdPlugin : public QObject, public qcw::DecompositionPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID QCW_DECOMPOSITION_PLUGIN_IID FILE "eigen_svd_plugin.json")
    Q_INTERFACES(qcw::DecompositionPlugin)
public:
    QWidget* createSettingsWidget(QWidget* parent) override {
        auto* w = new QWidget(parent);
        auto* l = new QVBoxLayout(w);
        l->setContentsMargins(0, 0, 0, 0);
        auto* balanced = new QCheckBox(tr("Split the singular values evenly between the factors"), w);
        balanced->setObjectName("eigen-svd-balanced");
        balanced->setChecked(true);
        l->addWidget(balanced);
        return w;
    }
    void configure(const QWidget* settings, qcw::CompressOptions& o) const override {
        const auto* b = settings ? settings->findChild<QCheckBox*>("eigen-svd-balanced") : nullptr;
        const bool balanced = !b || b->isChecked();  // read here, on the GUI thread
        o.method = "custom";
        o.factorizerName = "eigen-svd";
        o.factorizer = [balanced](const float* w, std::int64_t rows, std::int64_t cols, int rank) {
            return eigenSvd(w, rows, cols, rank, balanced);
        };
    }
};

#include "eigen_svd_plugin.moc"
