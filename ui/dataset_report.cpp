#include "ui/dataset_report.h"

#include "ui/documents_job.h"
#include "ui/format.h"
#include "ui/secret_kinds.h"

#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <set>

namespace qcw::ui {

DatasetReport::DatasetReport(QWidget* parent) : QSplitter(Qt::Horizontal, parent) {
    auto* statsBox = new QGroupBox(tr("Dataset"));
    statsBox->setObjectName(QStringLiteral("dataset-stats"));
    auto* sv = new QHBoxLayout(statsBox);
    auto* form = new QFormLayout;
    auto label = [&](const char* name) {
        auto* l = new QLabel(QStringLiteral("\u2014"));
        l->setObjectName(QString::fromLatin1(name));
        l->setTextInteractionFlags(Qt::TextSelectableByMouse);
        return l;
    };
    documents_ = label("stats-documents");
    records_ = label("stats-records");
    characters_ = label("stats-characters");
    tokens_ = label("stats-tokens");
    duplicates_ = label("stats-duplicates");
    form->addRow(tr("Documents:"), documents_);
    form->addRow(tr("Records:"), records_);
    form->addRow(tr("Characters:"), characters_);
    form->addRow(tr("Tokens:"), tokens_);
    form->addRow(tr("Duplicates dropped:"), duplicates_);
    sv->addLayout(form, 1);
    types_ = new QTableWidget(0, 4);
    types_->setObjectName(QStringLiteral("stats-types"));
    types_->setHorizontalHeaderLabels({tr("Type"), tr("Documents"), tr("Records"), tr("Size")});
    types_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    types_->verticalHeader()->setVisible(false);
    types_->verticalHeader()->setDefaultSectionSize(types_->fontMetrics().height() + 6);
    types_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    types_->horizontalHeader()->setStretchLastSection(true);
    sv->addWidget(types_, 1);
    addWidget(statsBox);

    auto* secretsBox = new QGroupBox(tr("Secrets found (pre-flight)"));
    auto* kv = new QVBoxLayout(secretsBox);
    secretsTotal_ = new QLabel(QStringLiteral("\u2014"));
    secretsTotal_->setObjectName(QStringLiteral("secrets-total"));
    secretsTotal_->setWordWrap(true);
    kv->addWidget(secretsTotal_);
    secrets_ = new QTreeWidget;
    secrets_->setObjectName(QStringLiteral("secrets-report"));
    secrets_->setColumnCount(2);
    secrets_->setHeaderLabels({tr("Kind / file"), tr("Count")});
    secrets_->header()->setStretchLastSection(false);
    secrets_->header()->setSectionResizeMode(0, QHeaderView::Stretch);
    secrets_->header()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    kv->addWidget(secrets_, 1);
    addWidget(secretsBox);
    setStretchFactor(0, 3);
    setStretchFactor(1, 2);
}

void DatasetReport::clear() {
    for (QLabel* l : {documents_, records_, characters_, tokens_, duplicates_}) l->setText(QStringLiteral("\u2014"));
    tokens_->setToolTip(QString());
    types_->setRowCount(0);
    secrets_->clear();
    secretsTotal_->setText(QStringLiteral("\u2014"));
}

void DatasetReport::showAnalysis(const DocumentsAnalysis& a) {
    const int listed = static_cast<int>(a.files.size());
    documents_->setText(tr("%1 read of %2 (%3 skipped)").arg(formatCount(a.filesRead), formatCount(listed), formatCount(a.skipped)));
    records_->setText(tr("%1 (%2 train, %3 held out; %4 instruction pairs)")
                          .arg(formatCount(a.records), formatCount(a.trainRecords), formatCount(a.evalRecords),
                               formatCount(a.pairs)));
    characters_->setText(formatCount(a.characters));
    if (a.tokenizer.isEmpty()) {
        tokens_->setText(tr("\u2248 %1 (bytes / 4)").arg(formatCount(a.tokens)));
        tokens_->setToolTip(tr("Open a model with a tokenizer for exact counts"));
    } else {
        tokens_->setText(tr("%1 (tokenizer of %2)").arg(formatCount(a.tokens), a.tokenizer));
        tokens_->setToolTip(QString());
    }
    duplicates_->setText(tr("%1 (%2 exact, %3 near)")
                             .arg(formatCount(a.exactDuplicates + a.nearDuplicates), formatCount(a.exactDuplicates),
                                  formatCount(a.nearDuplicates)));

    types_->setRowCount(static_cast<int>(a.types.size()));
    int r = 0;
    for (const auto& [type, c] : a.types) {
        const QString cells[] = {QString::fromStdString(type), formatCount(c.documents), formatCount(c.records),
                                 formatBytes(double(c.bytes))};
        for (int col = 0; col < 4; ++col) {
            auto* item = new QTableWidgetItem(cells[col]);
            if (col > 0) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            types_->setItem(r, col, item);
        }
        ++r;
    }

    // The pre-flight report: per kind, and under each kind the files it was found in.
    secrets_->clear();
    int total = 0;
    std::set<std::string> filesWithSecrets;
    for (const auto& [kind, n] : a.redactions) {
        total += n;
        auto* k = new QTreeWidgetItem(secrets_, {secretKindLabel(kind), formatCount(n)});
        k->setToolTip(0, tr("rule: %1").arg(QString::fromStdString(kind)));
        k->setData(0, Qt::UserRole, QString::fromStdString(kind));
        k->setTextAlignment(1, Qt::AlignRight | Qt::AlignVCenter);
        for (const auto& f : a.files) {
            auto it = f.redactions.find(kind);
            if (it == f.redactions.end() || it->second == 0) continue;
            filesWithSecrets.insert(f.path);
            auto* c = new QTreeWidgetItem(k, {QString::fromStdString(f.path), formatCount(it->second)});
            c->setData(0, Qt::UserRole, QString::fromStdString(f.path));
            c->setTextAlignment(1, Qt::AlignRight | Qt::AlignVCenter);
        }
    }
    QString text = total == 0 ? tr("No secrets found.")
                              : tr("%1 secrets of %2 kinds in %3 files, each replaced by a placeholder.")
                                    .arg(formatCount(total))
                                    .arg(a.redactions.size())
                                    .arg(filesWithSecrets.size());
    for (const auto& [kind, n] : a.anonymized) text += tr(" %1 %2 anonymised.").arg(formatCount(n), secretKindLabel(kind));
    secretsTotal_->setText(text);
    if (!secrets_->topLevelItemCount()) return;
    secrets_->expandToDepth(-1);
}

}  // namespace qcw::ui
