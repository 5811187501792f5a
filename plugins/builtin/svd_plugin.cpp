// The core's SVD strategies as a plugin: plain or activation-aware, exact or randomized.
#include "ui/decomposition_plugin.h"

#include <QCheckBox>
#include <QObject>
#include <QVBoxLayout>
#include <QWidget>

class SvdPlugin : public QObject, public qcw::DecompositionPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID QCW_DECOMPOSITION_PLUGIN_IID FILE "svd_plugin.json")
    Q_INTERFACES(qcw::DecompositionPlugin)
public:
    QWidget* createSettingsWidget(QWidget* parent) override {
        auto* w = new QWidget(parent);
        auto* l = new QVBoxLayout(w);
        l->setContentsMargins(0, 0, 0, 0);
        auto* aware = new QCheckBox(tr("Activation-aware (whiten by calibration activations)"), w);
        aware->setObjectName("svd-activation-aware");
        auto* randomized = new QCheckBox(tr("Randomized SVD (faster on big matrices)"), w);
        randomized->setObjectName("svd-randomized");
        l->addWidget(aware);
        l->addWidget(randomized);
        return w;
    }
    void configure(const QWidget* settings, qcw::CompressOptions& o) const override {
        const auto* aware = settings ? settings->findChild<QCheckBox*>("svd-activation-aware") : nullptr;
        const auto* randomized = settings ? settings->findChild<QCheckBox*>("svd-randomized") : nullptr;
        o.method = aware && aware->isChecked() ? "asvd" : "svd";
        o.randomized = randomized && randomized->isChecked();
    }
};

#include "svd_plugin.moc"
