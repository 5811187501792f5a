#include "ui/document_list.h"

#include "ui/format.h"
#include "ui/secret_kinds.h"

#include <QDir>
#include <QHeaderView>

namespace qcw::ui {

namespace {
enum Role { PathRole = Qt::UserRole, StateRole };
}  // namespace

DocumentList::DocumentList(QWidget* parent) : QTreeWidget(parent) {
    setObjectName(QStringLiteral("document-list"));
    setColumnCount(ColumnCount);
    setHeaderLabels({tr("Name"), tr("Type"), tr("Size"), tr("Status"), tr("Records"), tr("Secrets")});
    setRootIsDecorated(false);
    setUniformRowHeights(true);
    setAlternatingRowColors(true);
    setSelectionMode(QAbstractItemView::SingleSelection);
    header()->setStretchLastSection(false);
    header()->setSectionResizeMode(ColName, QHeaderView::Stretch);
    for (int c = ColType; c < ColumnCount; ++c)
        header()->setSectionResizeMode(c, c == ColStatus ? QHeaderView::Interactive : QHeaderView::ResizeToContents);
    header()->resizeSection(ColStatus, 110);
    setTextElideMode(Qt::ElideMiddle);
}

DocumentList::State DocumentList::stateOf(const std::string& status, const std::string& reason) {
    if (status == "ok") return State::Read;
    if (status == "partial") return State::Partial;
    // Reasons that are failures rather than choices (reader crash, permissions, I/O).
    static const char* const errors[] = {"reader failed", "cannot ", "read error", "I/O error"};
    for (const char* e : errors)
        if (reason.rfind(e, 0) == 0) return State::Error;
    return State::Skipped;
}

QString DocumentList::stateName(State s) {
    switch (s) {
    case State::Queued: return QStringLiteral("queued");
    case State::Read: return QStringLiteral("read");
    case State::Partial: return QStringLiteral("partial");
    case State::Skipped: return QStringLiteral("skipped");
    case State::Error: return QStringLiteral("error");
    case State::Cancelled: return QStringLiteral("cancelled");
    }
    return {};
}

QString DocumentList::statusText(State s, const QString& reason) {
    switch (s) {
    case State::Queued: return tr("queued");
    case State::Read: return tr("read");
    case State::Partial: return reason.isEmpty() ? tr("read with problems") : tr("read with problems: %1").arg(reason);
    case State::Skipped: return tr("skipped: %1").arg(reason);
    case State::Error: return tr("error: %1").arg(reason);
    case State::Cancelled: return tr("not read (cancelled)");
    }
    return {};
}

QString DocumentList::relOf(const QTreeWidgetItem* row) { return row->text(ColName); }
QString DocumentList::pathOf(const QTreeWidgetItem* row) { return row->data(ColName, PathRole).toString(); }
bool DocumentList::isUnreadable(const QTreeWidgetItem* row) {
    const QString state = row->data(ColStatus, StateRole).toString();
    return state == stateName(State::Skipped) || state == stateName(State::Error);
}

void DocumentList::clearRows() {
    clear();
    fileRows_.clear();
    rowsByRel_.clear();
}

QTreeWidgetItem* DocumentList::addRow(const QString& rel, const QString& path) {
    auto* row = new QTreeWidgetItem(this);
    row->setText(ColName, rel);
    row->setToolTip(ColName, QDir::toNativeSeparators(path));
    row->setData(ColName, PathRole, path);
    for (int c : {ColSize, ColRecords, ColSecrets}) row->setTextAlignment(c, Qt::AlignRight | Qt::AlignVCenter);
    rowsByRel_[rel] = row;
    return row;
}

void DocumentList::setRowState(QTreeWidgetItem* row, State s, const QString& reason) {
    row->setText(ColStatus, statusText(s, reason));
    row->setToolTip(ColStatus, row->text(ColStatus));
    row->setData(ColStatus, StateRole, stateName(s));
    const bool bad = s == State::Error;
    const bool dim = s == State::Skipped || s == State::Cancelled || s == State::Queued;
    for (int c = 0; c < ColumnCount; ++c) {
        row->setForeground(c, bad ? QBrush(QColor(0xc6, 0x28, 0x28)) : dim ? palette().brush(QPalette::PlaceholderText)
                                                                            : QBrush());
    }
}

void DocumentList::showListing(const qcw::InputListing& listing) {
    clearRows();
    for (const auto& f : listing.files) {
        QTreeWidgetItem* row = addRow(QString::fromStdString(f.rel), QString::fromStdString(f.path));
        setRowState(row, State::Queued, {});
        fileRows_.push_back(row);
    }
    for (const auto& s : listing.skipped) {
        QTreeWidgetItem* row = addRow(QString::fromStdString(s.path), QString());
        setRowState(row, stateOf("skipped", s.reason), QString::fromStdString(s.reason));
    }
}

void DocumentList::markRead(long long step, const std::string& message) {
    if (step < 1) return;
    const auto i = static_cast<std::size_t>(step - 1);
    if (i < fileRows_.size() && fileRows_[i]->data(ColStatus, StateRole).toString() == stateName(State::Queued)) {
        const bool skipped = message.size() > 9 && message.compare(message.size() - 9, 9, ": skipped") == 0;
        fileRows_[i]->setText(ColStatus, skipped ? tr("skipped") : tr("read"));
        fileRows_[i]->setData(ColStatus, StateRole, skipped ? stateName(State::Skipped) : stateName(State::Read));
    }
}

void DocumentList::cancelQueued() {
    for (QTreeWidgetItem* row : fileRows_)
        if (row->data(ColStatus, StateRole).toString() == stateName(State::Queued)) setRowState(row, State::Cancelled, {});
}

void DocumentList::showResults(const std::vector<qcw::FileSummary>& files) {
    for (const auto& f : files) {
        const QString rel = QString::fromStdString(f.path);
        auto it = rowsByRel_.find(rel);
        QTreeWidgetItem* row = it != rowsByRel_.end() ? it->second : addRow(rel, QString());
        row->setText(ColType, QString::fromStdString(f.type));
        row->setText(ColSize, f.status == "skipped" && f.bytes == 0 ? QString() : formatBytes(double(f.bytes)));
        row->setText(ColRecords, f.status == "skipped" ? QString() : formatCount(f.records));
        int secretsInFile = 0;
        QStringList kinds;
        for (const auto& [kind, n] : f.redactions) {
            secretsInFile += n;
            kinds << QStringLiteral("%1 \u00d7 %2").arg(n).arg(secretKindLabel(kind));
        }
        row->setText(ColSecrets, secretsInFile ? formatCount(secretsInFile) : QString());
        row->setToolTip(ColSecrets, kinds.join(QLatin1Char('\n')));
        QString reason = QString::fromStdString(f.reason);
        if (f.status == "partial" && reason.isEmpty() && !f.warnings.empty())
            reason = QString::fromStdString(f.warnings.front());
        setRowState(row, stateOf(f.status, f.reason), reason);
        if (!f.warnings.empty()) {
            QStringList w;
            for (const auto& x : f.warnings) w << QString::fromStdString(x);
            row->setToolTip(ColStatus, row->text(ColStatus) + QLatin1Char('\n') + w.join(QLatin1Char('\n')));
        }
    }
}

QTreeWidgetItem* DocumentList::rowFor(const QString& rel) const {
    auto it = rowsByRel_.find(rel);
    return it == rowsByRel_.end() ? nullptr : it->second;
}

}  // namespace qcw::ui
