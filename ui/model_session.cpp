#include "ui/model_session.h"

#include "ui/async.h"

#include <QDir>
#include <QFileInfo>

namespace qcw::ui {

struct ModelSession::Impl {
    Loader loader = [](const std::string& dir) { return qcw::inspectModel(dir); };
    std::shared_ptr<const qcw::ModelSummary> model;
    QString directory;
    QString loadingDir;
    QString lastError;
    quint64 generation = 0;
    Jobs jobs;  // last: destroyed (cancelled and waited for) first
};

ModelSession::ModelSession(QObject* parent) : QObject(parent), d(std::make_unique<Impl>()) {}

ModelSession::~ModelSession() = default;

void ModelSession::setLoader(Loader loader) { d->loader = std::move(loader); }

QString ModelSession::normalizeModelPath(const QString& path) {
    QFileInfo info(path);
    if (info.isFile()) info = QFileInfo(info.absolutePath());
    QString abs = info.absoluteFilePath();
    const QString canonical = info.canonicalFilePath();
    return QDir::cleanPath(canonical.isEmpty() ? abs : canonical);
}

void ModelSession::open(const QString& path) {
    const QString dir = normalizeModelPath(path);
    const bool wasLoading = isLoading();
    d->jobs.cancelAll();  // a load still running is superseded
    const quint64 gen = ++d->generation;
    d->loadingDir = dir;
    emit loadStarted(dir);
    if (!wasLoading) emit loadingChanged(true);

    Loader loader = d->loader;
    const std::string dirStd = dir.toStdString();
    d->jobs.run(
        [loader, dirStd](qcw::RunContext&) { return loader(dirStd); },
        [this, gen, dir](Outcome<qcw::ModelSummary> out) {
            if (gen != d->generation) return;  // superseded by a later open()
            d->loadingDir.clear();
            if (out.ok()) {
                d->model = std::make_shared<const qcw::ModelSummary>(std::move(*out.value));
                d->directory = dir;
                d->lastError.clear();
                emit loadingChanged(false);
                emit modelLoaded(dir);
            } else {
                d->lastError = out.cancelled ? tr("loading was cancelled")
                                             : (out.error.isEmpty() ? tr("unknown error") : out.error);
                emit loadingChanged(false);
                emit loadFailed(dir, d->lastError);
            }
        });
}

void ModelSession::reload() {
    if (!d->directory.isEmpty()) open(d->directory);
}

bool ModelSession::isLoading() const { return !d->loadingDir.isEmpty(); }
QString ModelSession::loadingDirectory() const { return d->loadingDir; }
bool ModelSession::hasModel() const { return d->model != nullptr; }
QString ModelSession::directory() const { return d->directory; }
std::shared_ptr<const qcw::ModelSummary> ModelSession::model() const { return d->model; }
QString ModelSession::lastError() const { return d->lastError; }

}  // namespace qcw::ui
