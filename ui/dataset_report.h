#pragma once
// The documents pane's report under the list: the dataset's statistics (documents, records,
// characters, tokens, duplicates dropped, per type) beside the pre-flight report of the
// secrets found, per kind and, under each kind, per file.
#include <QSplitter>

class QLabel;
class QTableWidget;
class QTreeWidget;

namespace qcw::ui {

struct DocumentsAnalysis;

class DatasetReport : public QSplitter {
    Q_OBJECT
public:
    explicit DatasetReport(QWidget* parent = nullptr);

    void clear();  // dashes
    void showAnalysis(const DocumentsAnalysis& a);

private:
    QLabel* documents_ = nullptr;
    QLabel* records_ = nullptr;
    QLabel* characters_ = nullptr;
    QLabel* tokens_ = nullptr;
    QLabel* duplicates_ = nullptr;
    QTableWidget* types_ = nullptr;
    QLabel* secretsTotal_ = nullptr;
    QTreeWidget* secrets_ = nullptr;
};

}  // namespace qcw::ui
