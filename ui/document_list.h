#pragma once
// The documents pane's list: one row per document in the core's reading order (queued, then
// read, partial, skipped or error with the reason), with its type, size, records and the
// secrets found in it (the kinds in a tooltip).
#include "data/data.h"

#include <QTreeWidget>

#include <map>
#include <vector>

namespace qcw::ui {

class DocumentList : public QTreeWidget {
    Q_OBJECT
public:
    enum Column { ColName, ColType, ColSize, ColStatus, ColRecords, ColSecrets, ColumnCount };

    explicit DocumentList(QWidget* parent = nullptr);

    void clearRows();
    // The walk of the inputs: every file queued, the skipped ones with their reason.
    void showListing(const qcw::InputListing& listing);
    // Progress: the `step`-th file of the listing has been read (`message` ends in ": skipped"
    // when the reader skipped it); its final status comes with showResults.
    void markRead(long long step, const std::string& message);
    // Rows still queued read "not read (cancelled)".
    void cancelQueued();
    // The final status, type, size, records and secrets of every file.
    void showResults(const std::vector<qcw::FileSummary>& files);
    // The row whose Name is `rel`; null when there is none.
    QTreeWidgetItem* rowFor(const QString& rel) const;

    // About a row.
    static QString relOf(const QTreeWidgetItem* row);
    static QString pathOf(const QTreeWidgetItem* row);  // empty for a skipped walk entry
    static bool isUnreadable(const QTreeWidgetItem* row);  // skipped or failed

private:
    enum class State { Queued, Read, Partial, Skipped, Error, Cancelled };
    static State stateOf(const std::string& status, const std::string& reason);
    static QString stateName(State s);
    static QString statusText(State s, const QString& reason);
    QTreeWidgetItem* addRow(const QString& rel, const QString& path);
    void setRowState(QTreeWidgetItem* row, State s, const QString& reason);

    std::vector<QTreeWidgetItem*> fileRows_;  // listing order = the core's reading order
    std::map<QString, QTreeWidgetItem*> rowsByRel_;
};

}  // namespace qcw::ui
