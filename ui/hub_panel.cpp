#include "ui/hub_panel.h"

#include "export/gguf.h"
#include "hub/hub_cache.h"
#include "hub/hub_pull.h"
#include "ui/async.h"
#include "ui/format.h"
#include "ui/model_session.h"

#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace qcw::ui {

struct HubPanel::Impl {
    HubPanel* q;
    ModelSession* session;
    QTreeWidget* list = nullptr;
    QLineEdit* id = nullptr;
    QPushButton *open = nullptr, *download = nullptr, *cancel = nullptr;
    QProgressBar* bar = nullptr;
    QLabel* line = nullptr;
    bool busy = false;
    Jobs jobs{};  // last: its destructor cancels and waits before the widgets go

    void setBusy(bool b) {
        busy = b;
        bar->setVisible(b);
        cancel->setVisible(b);
        open->setEnabled(!b);
        download->setEnabled(!b);
    }
};

HubPanel::HubPanel(ModelSession* session, QWidget* parent) : QWidget(parent), d(new Impl{this, session}) {
    setObjectName(QStringLiteral("hub-panel"));
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(0, 0, 0, 0);
    auto* title = new QLabel(tr("Phi models in the Hugging Face cache"));
    title->setObjectName(QStringLiteral("hub-title"));
    v->addWidget(title);
    d->list = new QTreeWidget;
    d->list->setObjectName(QStringLiteral("hub-cached"));
    d->list->setHeaderLabels({tr("Model"), tr("Revision"), tr("Size"), tr("Folder")});
    d->list->setRootIsDecorated(false);
    d->list->header()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
    d->list->setMinimumHeight(120);
    v->addWidget(d->list);
    auto* row = new QHBoxLayout;
    d->id = new QLineEdit;
    d->id->setObjectName(QStringLiteral("hub-id"));
    d->id->setPlaceholderText(tr("microsoft/phi-1_5 or org/name@revision"));
    d->open = new QPushButton(tr("Open"));
    d->open->setObjectName(QStringLiteral("hub-open"));
    d->download = new QPushButton(tr("Download"));
    d->download->setObjectName(QStringLiteral("hub-download"));
    d->cancel = new QPushButton(tr("Cancel"));
    d->cancel->setObjectName(QStringLiteral("hub-cancel"));
    row->addWidget(d->id, 1);
    row->addWidget(d->open);
    row->addWidget(d->download);
    row->addWidget(d->cancel);
    v->addLayout(row);
    d->bar = new QProgressBar;
    d->bar->setObjectName(QStringLiteral("hub-progress"));
    v->addWidget(d->bar);
    d->line = new QLabel;
    d->line->setObjectName(QStringLiteral("hub-status"));
    d->line->setWordWrap(true);
    v->addWidget(d->line);
    d->setBusy(false);

    connect(d->list, &QTreeWidget::itemActivated, this, [this](QTreeWidgetItem* item) {
        d->session->open(item->data(0, Qt::UserRole).toString());
    });
    connect(d->list, &QTreeWidget::currentItemChanged, this, [this](QTreeWidgetItem* item) {
        if (item) d->id->setText(item->data(1, Qt::UserRole).toString());
    });
    connect(d->open, &QPushButton::clicked, this, [this] { openOrDownload(d->id->text().trimmed()); });
    connect(d->id, &QLineEdit::returnPressed, this, [this] { openOrDownload(d->id->text().trimmed()); });
    connect(d->download, &QPushButton::clicked, this, [this] { download(d->id->text().trimmed()); });
    connect(d->cancel, &QPushButton::clicked, this, &HubPanel::cancel);
    refresh();
}

HubPanel::~HubPanel() = default;

void HubPanel::refresh() {
    d->list->clear();
    const std::string cache = qcw::hub::cacheDir();
    for (const auto& m : qcw::hub::listCachedModels(cache)) {
        const QString rev = QString::fromStdString(m.revision);
        auto* item = new QTreeWidgetItem({QString::fromStdString(m.repo), rev.size() == 40 ? rev.left(10) : rev,
                                          formatBytes(static_cast<double>(m.bytes)), QString::fromStdString(m.path)});
        item->setData(0, Qt::UserRole, QString::fromStdString(m.path));
        item->setData(1, Qt::UserRole, QString::fromStdString(m.revision == "main" ? m.repo : m.repo + "@" + m.revision));
        if (!m.hasWeights) item->setToolTip(0, tr("no *.safetensors in this snapshot"));
        d->list->addTopLevelItem(item);
    }
    if (d->list->topLevelItemCount() == 0)
        d->line->setText(tr("No Phi model in %1. Type a hub id and Download.").arg(QString::fromStdString(cache)));
}

void HubPanel::openOrDownload(const QString& idOrPath) {
    if (idOrPath.isEmpty()) return;
    if (QFileInfo::exists(idOrPath)) {
        d->session->open(idOrPath);
        return;
    }
    const auto ref = qcw::hub::parseRepoRef(idOrPath.toStdString());
    if (!ref) {
        d->line->setText(tr("%1 is neither a folder nor a hub id (ORG/NAME or ORG/NAME@REVISION)").arg(idOrPath));
        return;
    }
    if (auto snap = qcw::hub::cachedSnapshot(*ref, qcw::hub::cacheDir())) {
        d->session->open(QString::fromStdString(*snap));
        return;
    }
    if (qcw::hub::offlineMode()) {
        d->line->setText(tr("%1 is not in the cache and HF_HUB_OFFLINE=1 forbids downloading it").arg(idOrPath));
        return;
    }
    download(idOrPath);
}

void HubPanel::download(const QString& id) {
    if (d->busy || id.isEmpty()) return;
    const auto ref = qcw::hub::parseRepoRef(id.toStdString());
    if (!ref) {
        d->line->setText(tr("%1 is not a hub id (ORG/NAME or ORG/NAME@REVISION)").arg(id));
        return;
    }
    d->setBusy(true);
    d->bar->setRange(0, 0);
    d->line->setText(tr("Listing %1 on %2 …").arg(id, QString::fromStdString(qcw::hub::endpoint())));
    const auto r = *ref;
    d->jobs.run([r](qcw::RunContext& ctx) { return qcw::hub::pull(r, qcw::hub::PullOptions{}, ctx); },
                [this, id](Outcome<qcw::hub::PullResult> out) {
                    d->setBusy(false);
                    refresh();
                    if (out.ok()) {
                        const QString snap = QString::fromStdString(out.value->snapshot);
                        d->line->setText(tr("%1: %2 downloaded, %3 already in the cache")
                                             .arg(id, formatBytes(double(out.value->bytesDownloaded)),
                                                  formatBytes(double(out.value->bytesReused))));
                        emit downloadFinished(true, snap);
                        d->session->open(snap);
                    } else {
                        const QString why = out.cancelled ? tr("cancelled; Download again resumes it") : out.error;
                        d->line->setText(why);
                        emit downloadFinished(false, why);
                    }
                },
                [this](const qcw::Progress& p) {
                    if (p.total > 0) {
                        // Bytes in KiB so the range fits an int.
                        d->bar->setRange(0, static_cast<int>(p.total / 1024));
                        d->bar->setValue(static_cast<int>(p.step / 1024));
                    }
                    if (!p.message.empty()) d->line->setText(QString::fromStdString(p.message));
                });
}

void HubPanel::cancel() { d->jobs.cancelAll(); }
bool HubPanel::busy() const { return d->busy; }
QString HubPanel::status() const { return d->line->text(); }

struct GgufExportButton::Impl {
    ModelSession* session;
    QPushButton* button = nullptr;
    QComboBox* type = nullptr;
    QProgressBar* bar = nullptr;
    bool busy = false;
    Jobs jobs{};
};

GgufExportButton::GgufExportButton(ModelSession* session, QWidget* parent) : QWidget(parent), d(new Impl{session}) {
    setObjectName(QStringLiteral("gguf-export"));
    auto* h = new QHBoxLayout(this);
    h->setContentsMargins(0, 0, 0, 0);
    d->type = new QComboBox;
    d->type->setObjectName(QStringLiteral("gguf-type"));
    d->type->addItems({"f16", "q8_0", "q4_0", "f32"});
    d->type->setToolTip(tr("Weight type of the GGUF file (norms and biases stay f32)"));
    d->button = new QPushButton(tr("Export GGUF…"));
    d->button->setObjectName(QStringLiteral("gguf-export-button"));
    d->button->setToolTip(tr("Write the open model for llama.cpp, Ollama and LM Studio; factorized layers are rebuilt dense"));
    d->bar = new QProgressBar;
    d->bar->setMaximumWidth(120);
    d->bar->hide();
    h->addWidget(d->type);
    h->addWidget(d->button);
    h->addWidget(d->bar);
    connect(d->button, &QPushButton::clicked, this, [this] {
        if (d->busy) {
            d->jobs.cancelAll();
            return;
        }
        const QString dir = d->session->directory();
        if (dir.isEmpty()) return;
        const QString suggested = QFileInfo(dir).absolutePath() + "/" + QFileInfo(dir).fileName() + "-" + d->type->currentText() + ".gguf";
        const QString path = QFileDialog::getSaveFileName(this, tr("Export GGUF"), suggested, tr("GGUF (*.gguf)"));
        if (!path.isEmpty()) exportTo(path, d->type->currentText());
    });
}

GgufExportButton::~GgufExportButton() = default;

bool GgufExportButton::busy() const { return d->busy; }

void GgufExportButton::exportTo(const QString& path, const QString& type) {
    const std::string dir = d->session->directory().toStdString();
    if (dir.empty() || d->busy) return;
    d->busy = true;
    d->button->setText(tr("Cancel export"));
    d->bar->show();
    d->bar->setRange(0, 0);
    qcw::GgufExportOptions opts;
    opts.type = type.toStdString();
    opts.modelfile = true;
    const std::string out = path.toStdString();
    d->jobs.run([dir, out, opts](qcw::RunContext& ctx) { return qcw::exportGguf(dir, out, opts, ctx); },
                [this](Outcome<qcw::GgufExportResult> r) {
                    d->busy = false;
                    d->button->setText(tr("Export GGUF…"));
                    d->bar->hide();
                    if (r.ok()) {
                        QString note = QString::fromStdString(r.value->path) + " (" + formatBytes(double(r.value->bytes)) + ")";
                        if (!r.value->rebuilt.empty())
                            note += tr("; %1 factorized maps rebuilt dense: %2 in the folder")
                                        .arg(r.value->rebuilt.size())
                                        .arg(formatBytes(double(r.value->sourceBytes)));
                        d->button->setToolTip(note);
                        emit exportFinished(true, note);
                    } else {
                        emit exportFinished(false, r.cancelled ? tr("cancelled") : r.error);
                    }
                },
                [this](const qcw::Progress& p) {
                    if (p.total > 0) {
                        d->bar->setRange(0, static_cast<int>(p.total));
                        d->bar->setValue(static_cast<int>(p.step));
                    }
                });
}

}  // namespace qcw::ui
