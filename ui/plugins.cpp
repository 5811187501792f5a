#include "ui/plugins.h"

#include "ui/decomposition_plugin.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QJsonObject>
#include <QLibrary>
#include <QPluginLoader>
#include <QSet>

namespace qcw::ui {

QStringList pluginSearchPaths() {
    QStringList dirs;
    const QString env = qEnvironmentVariable("QCW_PLUGIN_PATH");
    for (const QString& d : env.split(QLatin1Char(':'), Qt::SkipEmptyParts)) dirs << d;
    const QString app = QCoreApplication::applicationDirPath();
    dirs << app + QStringLiteral("/plugins") << QDir::cleanPath(app + QStringLiteral("/../lib/qcw/plugins"));
    return dirs;
}

std::vector<PluginInfo> discoverPlugins(const QStringList& dirs) {
    std::vector<PluginInfo> out;
    QSet<QString> ids;
    for (const QString& dir : dirs) {
        const QDir d(dir);
        if (!d.exists()) continue;
        for (const QFileInfo& fi : d.entryInfoList(QDir::Files, QDir::Name)) {
            if (!QLibrary::isLibrary(fi.fileName())) continue;
            QPluginLoader loader(fi.absoluteFilePath());
            const QJsonObject meta = loader.metaData();
            if (meta.value(QStringLiteral("IID")).toString() != QLatin1String(QCW_DECOMPOSITION_PLUGIN_IID)) continue;
            const QJsonObject m = meta.value(QStringLiteral("MetaData")).toObject();
            PluginInfo info;
            info.file = fi.absoluteFilePath();
            info.id = m.value(QStringLiteral("id")).toString();
            info.name = m.value(QStringLiteral("name")).toString(info.id);
            info.version = m.value(QStringLiteral("version")).toString();
            info.description = m.value(QStringLiteral("description")).toString();
            info.strategy = m.value(QStringLiteral("strategy")).toString();
            if (info.id.isEmpty()) {
                info.error = QStringLiteral("%1: its metadata has no \"id\"").arg(info.file);
            } else if (ids.contains(info.id)) {
                continue;  // an earlier folder already gave this id
            } else if (QObject* instance = loader.instance()) {
                info.plugin = qobject_cast<qcw::DecompositionPlugin*>(instance);
                if (!info.plugin) info.error = QStringLiteral("%1: does not implement the decomposition interface").arg(info.file);
            } else {
                info.error = QStringLiteral("%1: %2").arg(info.file, loader.errorString());
            }
            if (!info.id.isEmpty()) ids.insert(info.id);
            out.push_back(std::move(info));
        }
    }
    return out;
}

const std::vector<PluginInfo>& installedPlugins() {
    static const std::vector<PluginInfo> plugins = discoverPlugins();
    return plugins;
}

}  // namespace qcw::ui
