#pragma once
// Finding and loading decomposition plugins (see decomposition_plugin.h).
#include <QString>
#include <QStringList>

#include <vector>

namespace qcw {
class DecompositionPlugin;
}

namespace qcw::ui {

struct PluginInfo {
    QString id, name, version, description;
    QString strategy;  // metadata "strategy": the core strategy it gives settings for ("": its own factorizer)
    QString file;                                // absolute path of the library
    qcw::DecompositionPlugin* plugin = nullptr;  // null when it failed to load
    QString error;                               // one line, when it failed
};

// Where plugins are looked for, in order: each folder of $QCW_PLUGIN_PATH (':'-separated),
// <program dir>/plugins, <program dir>/../lib/qcw/plugins.
QStringList pluginSearchPaths();

// Loads every library in `dirs` that is a decomposition plugin (others are skipped; a broken
// one is listed with its error). The first plugin of an id wins. Instances live until exit.
std::vector<PluginInfo> discoverPlugins(const QStringList& dirs = pluginSearchPaths());

// The plugins of pluginSearchPaths(), discovered once per process.
const std::vector<PluginInfo>& installedPlugins();

}  // namespace qcw::ui
