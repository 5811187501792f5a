#pragma once
// The workbench window: a sidebar of panes in the order of the work (see panes.h), the File /
// View / Help menus, drag-and-drop of a model folder, and a status bar that shows loading and
// errors. Window geometry, state and the current pane persist in QSettings.
#include <QMainWindow>
#include <QStringList>

#include <memory>

class QMimeData;

namespace qcw::ui {

class ModelSession;
class Pane;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    struct Options {
        bool persistState = true;  // restore and save geometry, state, pane and pane settings
        bool errorDialogs = true;  // load errors also in a message box (always in the status bar)
    };

    explicit MainWindow(QWidget* parent = nullptr);
    explicit MainWindow(const Options& options, QWidget* parent = nullptr);
    ~MainWindow() override;

    // Opens a model directory (or the directory of a file inside it) in the background.
    void openModel(const QString& path);
    ModelSession* session() const;
    QStringList recentModels() const;

    // Panes by id ("model", ...), in the order of the work.
    QStringList paneIds() const;
    bool showPane(const QString& id);  // false for an unknown id
    QString currentPane() const;
    Pane* pane(const QString& id) const;

    // The local path a drop of `mime` would open, empty when it carries none.
    static QString modelPathFromMime(const QMimeData* mime);

public slots:
    void openModelDialog();
    void showAbout();
    void showAboutPlugins();  // Help > About Plugins: every decomposition plugin found

protected:
    void closeEvent(QCloseEvent* event) override;
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dragMoveEvent(QDragMoveEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

}  // namespace qcw::ui
