// The core's Tucker-2 strategies as a plugin: per layer (Q/K/V) or across layers.
#include "ui/decomposition_plugin.h"

#include <QComboBox>
#include <QObject>
#include <QVBoxLayout>
#include <QWidget>

class TuckerPlugin : public QObject, public qcw::DecompositionPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID QCW_DECOMPOSITION_PLUGIN_IID FILE "tucker_plugin.json")
    Q_INTERFACES(qcw::DecompositionPlugin)
public:
    QWidget* createSettingsWidget(QWidget* parent) override {
        auto* w = new QWidget(parent);
        auto* l = new QVBoxLayout(w);
        l->setContentsMargins(0, 0, 0, 0);
        auto* stack = new QComboBox(w);
        stack->setObjectName("tucker-stack");
        stack->addItem(tr("Q/K/V of each layer (other matrices SVD)"), "tucker");
        stack->addItem(tr("Each matrix type across all layers"), "tucker-xl");
        l->addWidget(stack);
        return w;
    }
    void configure(const QWidget* settings, qcw::CompressOptions& o) const override {
        const auto* stack = settings ? settings->findChild<QComboBox*>("tucker-stack") : nullptr;
        o.method = stack ? stack->currentData().toString().toStdString() : "tucker";
    }
};

#include "tucker_plugin.moc"
