#pragma once
// The interface of a decomposition plugin (a Qt plugin loaded with QPluginLoader). A plugin
// brings a strategy, either by choosing one of the core's (CompressOptions::method "svd",
// "tucker", "tt", ...) or by bringing its own per-matrix factorizer (method "custom" with
// CompressOptions::factorizer), and a settings widget for the compression pane.
//
// Its JSON metadata (Q_PLUGIN_METADATA FILE) names it:
//   {"id": "eigen-svd", "name": "Eigen SVD (example)", "version": "1.0", "description": "..."}
// A plugin that wraps one of the core's strategies adds "strategy": "<core id>" (the table in
// decompose/strategies/registry.cpp): the compression pane then shows its settings widget under
// that strategy's entry instead of listing the plugin again.
// See plugins/example for a complete one and README "Adding a decomposition".
#include "decompose/compress_api.h"

#include <QString>
#include <QtPlugin>

class QWidget;

namespace qcw {

class DecompositionPlugin {
public:
    virtual ~DecompositionPlugin() = default;
    // The settings shown under the method choice; may be null when there are none. Owned by
    // `parent`.
    virtual QWidget* createSettingsWidget(QWidget* parent) = 0;
    // Fills `opts` (method, factorizer and their settings) from a widget createSettingsWidget
    // returned (null when it returned null). Called on the GUI thread; a factorizer it sets
    // runs later on a worker thread and must not touch the widget.
    virtual void configure(const QWidget* settings, CompressOptions& opts) const = 0;
};

}  // namespace qcw

#define QCW_DECOMPOSITION_PLUGIN_IID "org.qcw.DecompositionPlugin/1"
Q_DECLARE_INTERFACE(qcw::DecompositionPlugin, QCW_DECOMPOSITION_PLUGIN_IID)
