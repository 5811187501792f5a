#pragma once
// The documents pane's options row: record length, the held-out share, anonymising IPs and
// e-mail addresses, and the exclude globs. Remembered in the pane's settings; a change asks
// the pane to read the documents again.
#include <QStringList>
#include <QWidget>

class QCheckBox;
class QDoubleSpinBox;
class QLineEdit;
class QSettings;
class QSpinBox;

namespace qcw::ui {

struct DocumentsRequest;

class DocumentsOptionsBar : public QWidget {
    Q_OBJECT
public:
    explicit DocumentsOptionsBar(QWidget* parent = nullptr);

    void fill(DocumentsRequest& r) const;  // record length, held out, anonymising, excludes
    QStringList excludePatterns() const;   // split on commas and white space
    void setExcludePatterns(const QStringList& globs);

    void saveSettings(QSettings& s) const;
    void restoreSettings(QSettings& s);    // without changed()

signals:
    void changed();  // a value the reading depends on (the globs: when editing finished)

private:
    QSpinBox* maxTokens_ = nullptr;
    QDoubleSpinBox* evalFraction_ = nullptr;
    QCheckBox* anonymizeIps_ = nullptr;
    QCheckBox* anonymizeEmails_ = nullptr;
    QLineEdit* exclude_ = nullptr;
};

}  // namespace qcw::ui
