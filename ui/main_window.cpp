#include "ui/main_window.h"

#include "ui/plugins.h"

#include "ui/app_icon.h"
#include "ui/model_session.h"
#include "ui/pane.h"
#include "ui/panes.h"
#include "ui/recent_models.h"
#include "ui/theme.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPointer>
#include <QProgressBar>
#include <QSettings>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>
#include <QUrl>

#include <vector>

namespace qcw::ui {

namespace {
const QString kGeometryKey = QStringLiteral("window/geometry");
const QString kStateKey = QStringLiteral("window/state");
const QString kPaneKey = QStringLiteral("window/pane");
const QString kSplitterKey = QStringLiteral("window/splitter");
const QString kLastDirKey = QStringLiteral("window/lastOpenDir");
const QString kThemeKey = QStringLiteral("ui/theme");
}  // namespace

struct MainWindow::Impl {
    MainWindow* q;
    Options options;
    ModelSession* session = nullptr;

    struct PaneEntry {
        QString id;
        Pane* widget;
    };
    std::vector<PaneEntry> panes;
    QListWidget* sidebar = nullptr;
    QStackedWidget* stack = nullptr;
    QSplitter* splitter = nullptr;

    QAction* openAction = nullptr;
    QAction* reloadAction = nullptr;
    QMenu* recentMenu = nullptr;
    QLabel* modelLabel = nullptr;
    QProgressBar* progress = nullptr;
    QPointer<QMessageBox> errorBox;
    QElapsedTimer loadClock;

    void buildActions();
    void buildPanes();
    void buildStatusBar();
    void rebuildRecentMenu();
    void restoreSettings();
    void saveSettings();
    void onLoadingChanged(bool loading);
    void onLoaded(const QString& dir);
    void onFailed(const QString& dir, const QString& message);
    void updateTitle();
};

MainWindow::MainWindow(QWidget* parent) : MainWindow(Options{}, parent) {}

MainWindow::MainWindow(const Options& options, QWidget* parent)
    : QMainWindow(parent), d(std::make_unique<Impl>()) {
    d->q = this;
    d->options = options;
    setObjectName(QStringLiteral("qcw-main-window"));
    setWindowIcon(appIcon());
    setAcceptDrops(true);
    d->session = new ModelSession(this);
    d->session->setObjectName(QStringLiteral("model-session"));
    d->buildActions();
    d->buildPanes();
    d->buildStatusBar();
    connect(d->session, &ModelSession::loadingChanged, this, [this](bool on) { d->onLoadingChanged(on); });
    connect(d->session, &ModelSession::modelLoaded, this, [this](const QString& dir) { d->onLoaded(dir); });
    connect(d->session, &ModelSession::loadFailed, this,
            [this](const QString& dir, const QString& message) { d->onFailed(dir, message); });
    resize(1200, 800);
    d->restoreSettings();
    d->rebuildRecentMenu();
    d->updateTitle();
}

MainWindow::~MainWindow() = default;

ModelSession* MainWindow::session() const { return d->session; }

QStringList MainWindow::recentModels() const { return recent::models(); }

void MainWindow::openModel(const QString& path) {
    if (path.trimmed().isEmpty()) return;
    d->session->open(path);
}

void MainWindow::openModelDialog() {
    QSettings s;
    QString start = s.value(kLastDirKey).toString();
    if (start.isEmpty() && d->session->hasModel()) start = QFileInfo(d->session->directory()).absolutePath();
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open Model Folder"), start);
    if (dir.isEmpty()) return;
    s.setValue(kLastDirKey, QFileInfo(dir).absolutePath());
    openModel(dir);
}

void MainWindow::showAbout() {
    QMessageBox box(this);
    box.setObjectName(QStringLiteral("about-box"));
    box.setWindowTitle(tr("About qcw"));
    box.setIconPixmap(appIcon().pixmap(64, 64));
    box.setTextFormat(Qt::RichText);
    box.setText(tr("<h3>qcw %1</h3><p>A workbench for compressing Phi language models with "
                   "quantum-inspired tensor networks.</p>")
                    .arg(QStringLiteral(QCW_VERSION)));
    box.setInformativeText(tr("Built with Qt %1, running on Qt %2.").arg(QStringLiteral(QT_VERSION_STR), qVersion()));
    box.exec();
}

void MainWindow::showAboutPlugins() {
    QMessageBox box(this);
    box.setObjectName(QStringLiteral("about-plugins-box"));
    box.setWindowTitle(tr("About Plugins"));
    box.setTextFormat(Qt::RichText);
    QString rows;
    for (const auto& p : installedPlugins()) {
        rows += p.plugin ? tr("<tr><td><b>%1</b></td><td>%2</td><td>%3</td></tr>")
                               .arg(p.name.toHtmlEscaped(), p.version.toHtmlEscaped(), p.description.toHtmlEscaped())
                         : tr("<tr><td colspan=3><b>failed:</b> %1</td></tr>").arg(p.error.toHtmlEscaped());
    }
    box.setText(rows.isEmpty() ? tr("No decomposition plugins found in %1.").arg(pluginSearchPaths().join(QStringLiteral(", ")).toHtmlEscaped())
                               : tr("<h3>Decomposition plugins</h3><table cellspacing=6>%1</table>").arg(rows));
    box.setInformativeText(tr("Searched: %1").arg(pluginSearchPaths().join(QStringLiteral(", "))));
    box.exec();
}

QStringList MainWindow::paneIds() const {
    QStringList ids;
    for (const auto& p : d->panes) ids << p.id;
    return ids;
}

bool MainWindow::showPane(const QString& id) {
    for (int i = 0; i < static_cast<int>(d->panes.size()); ++i) {
        if (d->panes[i].id == id) {
            d->sidebar->setCurrentRow(i);
            d->stack->setCurrentIndex(i);
            return true;
        }
    }
    return false;
}

QString MainWindow::currentPane() const {
    const int i = d->stack->currentIndex();
    return i >= 0 && i < static_cast<int>(d->panes.size()) ? d->panes[i].id : QString();
}

Pane* MainWindow::pane(const QString& id) const {
    for (const auto& p : d->panes)
        if (p.id == id) return p.widget;
    return nullptr;
}

QString MainWindow::modelPathFromMime(const QMimeData* mime) {
    if (!mime || !mime->hasUrls()) return {};
    for (const QUrl& url : mime->urls()) {
        if (!url.isLocalFile()) continue;
        const QString path = url.toLocalFile();
        if (QFileInfo::exists(path)) return path;
    }
    return {};
}

void MainWindow::closeEvent(QCloseEvent* event) {
    if (d->options.persistState) d->saveSettings();
    QMainWindow::closeEvent(event);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (!modelPathFromMime(event->mimeData()).isEmpty()) event->acceptProposedAction();
    else event->ignore();
}

void MainWindow::dragMoveEvent(QDragMoveEvent* event) {
    if (!modelPathFromMime(event->mimeData()).isEmpty()) event->acceptProposedAction();
    else event->ignore();
}

void MainWindow::dropEvent(QDropEvent* event) {
    const QString path = modelPathFromMime(event->mimeData());
    if (path.isEmpty()) {
        event->ignore();
        return;
    }
    event->acceptProposedAction();
    openModel(path);
}

// ---------------------------------------------------------------------------------------

void MainWindow::Impl::buildActions() {
    QMenu* file = q->menuBar()->addMenu(MainWindow::tr("&File"));
    file->setObjectName(QStringLiteral("menu-file"));
    openAction = file->addAction(MainWindow::tr("&Open Model…"), q, &MainWindow::openModelDialog);
    openAction->setObjectName(QStringLiteral("action-open"));
    openAction->setShortcut(QKeySequence::Open);
    openAction->setStatusTip(MainWindow::tr("Open a model snapshot folder (config.json and *.safetensors)"));
    recentMenu = file->addMenu(MainWindow::tr("Recent &Models"));
    recentMenu->setObjectName(QStringLiteral("menu-recent"));
    QObject::connect(recentMenu, &QMenu::aboutToShow, q, [this] { rebuildRecentMenu(); });
    reloadAction = file->addAction(MainWindow::tr("&Reload Model"), q, [this] { session->reload(); });
    reloadAction->setObjectName(QStringLiteral("action-reload"));
    reloadAction->setShortcut(QKeySequence::Refresh);
    reloadAction->setEnabled(false);
    file->addSeparator();
    QAction* quit = file->addAction(MainWindow::tr("&Quit"), q, &QWidget::close);
    quit->setObjectName(QStringLiteral("action-quit"));
    quit->setShortcut(QKeySequence::Quit);
    quit->setMenuRole(QAction::QuitRole);

    QMenu* view = q->menuBar()->addMenu(MainWindow::tr("&View"));
    view->setObjectName(QStringLiteral("menu-view"));
    const auto& infos = registeredPanes();
    for (int i = 0; i < static_cast<int>(infos.size()); ++i) {
        const QString id = QString::fromLatin1(infos[i].id);
        QAction* a = view->addAction(paneTitle(infos[i]), q, [this, id] { q->showPane(id); });
        a->setObjectName(QStringLiteral("action-pane-") + id);
        if (i < 9) a->setShortcut(QKeySequence(Qt::CTRL | Qt::Key(Qt::Key_1 + i)));
    }
    view->addSeparator();
    QMenu* themeMenu = view->addMenu(MainWindow::tr("&Theme"));
    themeMenu->setObjectName(QStringLiteral("menu-theme"));
    auto* themes = new QActionGroup(q);
    const std::pair<Theme, QString> themeItems[] = {{Theme::System, MainWindow::tr("Follow &System")},
                                                    {Theme::Light, MainWindow::tr("&Light")},
                                                    {Theme::Dark, MainWindow::tr("&Dark")}};
    for (const auto& [theme, label] : themeItems) {
        QAction* a = themeMenu->addAction(label);
        a->setCheckable(true);
        a->setChecked(theme == currentTheme());
        a->setObjectName(QStringLiteral("action-theme-") + themeToString(theme));
        themes->addAction(a);
        QObject::connect(a, &QAction::triggered, q, [t = theme] {
            applyTheme(t);
            QSettings().setValue(kThemeKey, themeToString(t));
        });
    }

    QMenu* help = q->menuBar()->addMenu(MainWindow::tr("&Help"));
    help->setObjectName(QStringLiteral("menu-help"));
    QAction* about = help->addAction(MainWindow::tr("&About qcw"), q, &MainWindow::showAbout);
    about->setObjectName(QStringLiteral("action-about"));
    about->setMenuRole(QAction::AboutRole);
    QAction* aboutPlugins = help->addAction(MainWindow::tr("About &Plugins"), q, &MainWindow::showAboutPlugins);
    aboutPlugins->setObjectName(QStringLiteral("action-about-plugins"));
    QAction* aboutQt = help->addAction(MainWindow::tr("About &Qt"), qApp, &QApplication::aboutQt);
    aboutQt->setMenuRole(QAction::AboutQtRole);
}

void MainWindow::Impl::buildPanes() {
    sidebar = new QListWidget;
    sidebar->setObjectName(QStringLiteral("pane-list"));
    sidebar->setSelectionMode(QAbstractItemView::SingleSelection);
    sidebar->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    stack = new QStackedWidget;
    stack->setObjectName(QStringLiteral("pane-stack"));

    PaneContext context;
    context.session = session;
    context.openModelAction = openAction;
    for (const PaneInfo& info : registeredPanes()) {
        Pane* p = info.create(context, stack);
        const QString id = QString::fromLatin1(info.id);
        p->setObjectName(QStringLiteral("pane-") + id);
        stack->addWidget(p);
        auto* item = new QListWidgetItem(paneTitle(info), sidebar);
        item->setToolTip(paneDescription(info));
        item->setData(Qt::UserRole, id);
        panes.push_back({id, p});
    }
    QObject::connect(sidebar, &QListWidget::currentRowChanged, stack, &QStackedWidget::setCurrentIndex);
    sidebar->setCurrentRow(0);
    sidebar->setMaximumWidth(220);
    sidebar->setMinimumWidth(110);

    splitter = new QSplitter(Qt::Horizontal);
    splitter->setObjectName(QStringLiteral("main-splitter"));
    splitter->addWidget(sidebar);
    splitter->addWidget(stack);
    splitter->setStretchFactor(0, 0);
    splitter->setStretchFactor(1, 1);
    splitter->setCollapsible(1, false);
    splitter->setSizes({150, 1050});
    q->setCentralWidget(splitter);
}

void MainWindow::Impl::buildStatusBar() {
    QStatusBar* bar = q->statusBar();
    bar->setObjectName(QStringLiteral("status-bar"));
    progress = new QProgressBar;
    progress->setObjectName(QStringLiteral("load-progress"));
    progress->setRange(0, 0);  // busy: the inventory has no step count
    progress->setMaximumWidth(160);
    progress->setTextVisible(false);
    progress->setVisible(false);
    modelLabel = new QLabel;
    modelLabel->setObjectName(QStringLiteral("status-model"));
    bar->addPermanentWidget(progress);
    bar->addPermanentWidget(modelLabel);
    bar->showMessage(MainWindow::tr("Open a model folder with Ctrl+O or drop it here"));
}

void MainWindow::Impl::rebuildRecentMenu() {
    recentMenu->clear();
    const QStringList dirs = recent::models();
    for (int i = 0; i < dirs.size(); ++i) {
        const QString& dir = dirs[i];
        QString label = QStringLiteral("&%1  %2").arg(i + 1).arg(QFileInfo(dir).fileName());
        QAction* a = recentMenu->addAction(label, q, [this, dir] { q->openModel(dir); });
        a->setData(dir);
        a->setToolTip(QDir::toNativeSeparators(dir));
        a->setStatusTip(QDir::toNativeSeparators(dir));
    }
    if (dirs.isEmpty()) recentMenu->addAction(MainWindow::tr("(none)"))->setEnabled(false);
    recentMenu->addSeparator();
    QAction* clear = recentMenu->addAction(MainWindow::tr("&Clear Menu"), q, [this] {
        recent::clear();
        rebuildRecentMenu();
    });
    clear->setObjectName(QStringLiteral("action-clear-recent"));
    clear->setEnabled(!dirs.isEmpty());
    recentMenu->setEnabled(true);
}

void MainWindow::Impl::restoreSettings() {
    if (!options.persistState) return;
    QSettings s;
    q->restoreGeometry(s.value(kGeometryKey).toByteArray());
    q->restoreState(s.value(kStateKey).toByteArray());
    splitter->restoreState(s.value(kSplitterKey).toByteArray());
    for (const auto& p : panes) {
        s.beginGroup(QStringLiteral("panes/") + p.id);
        p.widget->restoreSettings(s);
        s.endGroup();
    }
    const QString pane = s.value(kPaneKey).toString();
    if (!pane.isEmpty()) q->showPane(pane);
}

void MainWindow::Impl::saveSettings() {
    QSettings s;
    s.setValue(kGeometryKey, q->saveGeometry());
    s.setValue(kStateKey, q->saveState());
    s.setValue(kSplitterKey, splitter->saveState());
    s.setValue(kPaneKey, q->currentPane());
    for (const auto& p : panes) {
        s.beginGroup(QStringLiteral("panes/") + p.id);
        p.widget->saveSettings(s);
        s.endGroup();
    }
}

void MainWindow::Impl::onLoadingChanged(bool loading) {
    progress->setVisible(loading);
    openAction->setEnabled(true);
    reloadAction->setEnabled(!loading && session->hasModel());
    if (loading) {
        loadClock.start();
        q->statusBar()->showMessage(
            MainWindow::tr("Loading %1 …").arg(QDir::toNativeSeparators(session->loadingDirectory())));
    }
}

void MainWindow::Impl::onLoaded(const QString& dir) {
    recent::add(dir);
    rebuildRecentMenu();
    const auto model = session->model();
    const int tensors = model ? static_cast<int>(model->layers.size()) : 0;
    q->statusBar()->showMessage(MainWindow::tr("Opened %1: %2 tensors in %3 ms")
                                    .arg(QDir::toNativeSeparators(dir))
                                    .arg(tensors)
                                    .arg(loadClock.isValid() ? loadClock.elapsed() : 0));
    modelLabel->setText(QFileInfo(dir).fileName());
    modelLabel->setToolTip(QDir::toNativeSeparators(dir));
    reloadAction->setEnabled(true);
    updateTitle();
}

void MainWindow::Impl::onFailed(const QString& dir, const QString& message) {
    // Core's one-line message already names the file or directory at fault.
    q->statusBar()->showMessage(MainWindow::tr("Could not open the model: %1").arg(message));
    if (!options.errorDialogs) return;
    if (errorBox) errorBox->close();
    auto* box = new QMessageBox(QMessageBox::Warning, MainWindow::tr("Open Model"),
                                MainWindow::tr("Could not open the model folder\n%1").arg(QDir::toNativeSeparators(dir)),
                                QMessageBox::Ok, q);
    box->setObjectName(QStringLiteral("load-error"));
    box->setInformativeText(message);
    box->setAttribute(Qt::WA_DeleteOnClose);
    errorBox = box;
    box->open();  // window-modal, does not block the event loop
}

void MainWindow::Impl::updateTitle() {
    if (session->hasModel())
        q->setWindowTitle(QStringLiteral("%1 \u2014 qcw").arg(QFileInfo(session->directory()).fileName()));
    else
        q->setWindowTitle(QStringLiteral("qcw"));
}

}  // namespace qcw::ui
