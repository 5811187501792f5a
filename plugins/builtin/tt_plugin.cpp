// The core's tensor-train (MPO) strategy as a plugin, with its number of cores.
#include "ui/decomposition_plugin.h"

#include <QFormLayout>
#include <QObject>
#include <QSpinBox>
#include <QWidget>

class TtPlugin : public QObject, public qcw::DecompositionPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID QCW_DECOMPOSITION_PLUGIN_IID FILE "tt_plugin.json")
    Q_INTERFACES(qcw::DecompositionPlugin)
public:
    QWidget* createSettingsWidget(QWidget* parent) override {
        auto* w = new QWidget(parent);
        auto* l = new QFormLayout(w);
        l->setContentsMargins(0, 0, 0, 0);
        auto* cores = new QSpinBox(w);
        cores->setObjectName("tt-cores");
        cores->setRange(2, 6);
        cores->setValue(3);
        l->addRow(tr("Cores per tensor train:"), cores);
        return w;
    }
    void configure(const QWidget* settings, qcw::CompressOptions& o) const override {
        const auto* cores = settings ? settings->findChild<QSpinBox*>("tt-cores") : nullptr;
        o.method = "tt";
        o.ttCores = cores ? cores->value() : 3;
    }
};

#include "tt_plugin.moc"
