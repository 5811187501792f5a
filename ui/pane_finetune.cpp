#include "ui/pane_finetune.h"

#include "ui/async.h"
#include "ui/finetune_cluster.h"
#include "ui/format.h"
#include "ui/model_session.h"
#include "ui/progress_feed.h"

#include "common/error.h"
#include "model/cuda_support.h"
#include "train/train_api.h"
#include "data/train_data.h"

#include <QComboBox>
#include <QCoreApplication>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMainWindow>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardItemModel>
#include <QStatusBar>
#include <QToolButton>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace qcw::ui {

namespace {

// Held-out windows scored per evaluation: enough for a curve, few enough that an evaluation
// does not hold Stop up for long (the core checks for cancellation between steps).
constexpr std::size_t kMaxEvalWindows = 16;
const QString kLastDatasetKey = QStringLiteral("panes/documents/lastDataset");  // written by the documents pane

bool isModelDir(const QString& dir) { return QFileInfo::exists(dir + QStringLiteral("/config.json")); }

bool hasCheckpoint(const QString& out) {
    if (out.isEmpty()) return false;
    return !QDir(out + QStringLiteral("/checkpoints")).entryList({QStringLiteral("step-*")}, QDir::Dirs).isEmpty();
}

bool nonEmptyDir(const QString& dir) {
    const QFileInfo info(dir);
    return info.exists() && (!info.isDir() || !QDir(dir).isEmpty(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden));
}

QString durationText(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return QStringLiteral("\u2014");
    const auto s = static_cast<long long>(std::llround(seconds));
    if (s >= 3600) return QStringLiteral("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1:%2").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
}

QString number(double x, int precision = 4) {
    return std::isfinite(x) ? QLocale().toString(x, 'g', precision) : QStringLiteral("\u2014");
}

struct RunResult {
    qcw::TrainJobResult train;
    std::size_t trainWindows = 0, evalWindows = 0;
    int seqLen = 0;
};

}  // namespace

struct FineTunePane::Impl {
    FineTunePane* q = nullptr;
    ModelSession* session = nullptr;

    QLineEdit* student = nullptr;
    QLineEdit* teacher = nullptr;
    QLineEdit* data = nullptr;
    QLineEdit* out = nullptr;
    QSpinBox* steps = nullptr;
    QSpinBox* batch = nullptr;
    QLineEdit* lr = nullptr;
    QSpinBox* warmup = nullptr;
    QSpinBox* loraRank = nullptr;
    QComboBox* device = nullptr;
    QSpinBox* evalEvery = nullptr;
    QSpinBox* saveEvery = nullptr;
    ClusterBox* cluster = nullptr;
    QPushButton* startButton = nullptr;
    QPushButton* stopButton = nullptr;
    QPushButton* resumeButton = nullptr;
    QPushButton* openResult = nullptr;
    QProgressBar* progress = nullptr;
    QLabel* stepLabel = nullptr;
    QLabel* speedLabel = nullptr;
    QLabel* etaLabel = nullptr;
    QLabel* lossLabel = nullptr;
    QLabel* status = nullptr;
    QLabel* error = nullptr;
    QCustomPlot* plot = nullptr;

    bool busy = false;
    bool stopping = false;
    bool outEdited = false;
    quint64 generation = 0;
    long long step = 0, total = 0;
    double lossMin = std::numeric_limits<double>::infinity(), lossMax = -std::numeric_limits<double>::infinity();
    double lrMax = 0;
    QString lastError;
    QString lastModel;
    std::shared_ptr<ProgressFeed> feed;
    Jobs jobs;  // last: destroyed (cancelled and waited for) first

    void build();
    qcw::TrainJob jobFromFields(bool resume) const;
    QWidget* buildSettings();
    QWidget* buildRun();
    QLineEdit* pathRow(QFormLayout* form, const QString& label, const char* name, const QString& placeholder,
                       bool folderMustExist);
    void updateEnabled();
    void updateDefaults();
    void setBusy(bool on);
    void showError(const QString& message);
    void showStatusBar(const QString& message);
    QString check(bool resume, double& lrValue) const;
    void run(bool resume);
    void clearPlot();
    void applyProgress(const std::vector<qcw::Progress>& batch);
    void finished(quint64 gen, Outcome<RunResult> outcome);
};

FineTunePane::FineTunePane(const PaneContext& context, QWidget* parent)
    : Pane(context, parent), d(std::make_unique<Impl>()) {
    d->q = this;
    d->session = context.session;
    d->build();
    connect(d->session, &ModelSession::modelLoaded, this, [this] { d->updateDefaults(); });
    d->updateDefaults();
}

FineTunePane::~FineTunePane() = default;

bool FineTunePane::isBusy() const { return d->busy; }
QString FineTunePane::lastError() const { return d->lastError; }
long long FineTunePane::currentStep() const { return d->step; }

bool FineTunePane::canResume() const {
    return !d->busy && hasCheckpoint(QDir::cleanPath(d->out->text().trimmed()));
}

QString FineTunePane::studentDir() const {
    const QString s = d->student->text().trimmed();
    if (!s.isEmpty()) return QDir::cleanPath(s);
    return d->session->hasModel() ? d->session->directory() : QString();
}

FineTuneSettings FineTunePane::settings() const {
    FineTuneSettings s;
    s.student = d->student->text().trimmed();
    s.teacher = d->teacher->text().trimmed();
    s.data = d->data->text().trimmed();
    s.out = d->out->text().trimmed();
    s.steps = d->steps->value();
    s.batch = d->batch->value();
    bool ok = false;
    const double lr = QLocale::c().toDouble(d->lr->text().trimmed(), &ok);
    s.lr = ok ? lr : std::numeric_limits<double>::quiet_NaN();
    s.warmup = d->warmup->value();
    s.loraRank = d->loraRank->value();
    s.evalEvery = d->evalEvery->value();
    s.saveEvery = d->saveEvery->value();
    s.processes = d->cluster->processes();
    s.device = d->device->currentData().toString();
    return s;
}

void FineTunePane::setSettings(const FineTuneSettings& s) {
    d->student->setText(s.student);
    d->teacher->setText(s.teacher);
    d->data->setText(s.data);
    d->out->setText(s.out);
    d->outEdited = !s.out.isEmpty();
    d->steps->setValue(s.steps);
    d->batch->setValue(s.batch);
    d->lr->setText(QLocale::c().toString(s.lr, 'g', 6));
    d->warmup->setValue(s.warmup);
    d->loraRank->setValue(s.loraRank);
    d->evalEvery->setValue(s.evalEvery);
    d->saveEvery->setValue(s.saveEvery);
    d->cluster->setProcesses(s.processes);
    const int dev = d->device->findData(s.device);
    if (dev >= 0 && d->device->model()->index(dev, 0).flags().testFlag(Qt::ItemIsEnabled)) d->device->setCurrentIndex(dev);
    d->updateDefaults();
}

void FineTunePane::saveSettings(QSettings& st) const {
    const FineTuneSettings s = settings();
    st.setValue(QStringLiteral("student"), s.student);
    st.setValue(QStringLiteral("teacher"), s.teacher);
    st.setValue(QStringLiteral("data"), s.data);
    st.setValue(QStringLiteral("out"), d->outEdited ? s.out : QString());
    st.setValue(QStringLiteral("steps"), s.steps);
    st.setValue(QStringLiteral("batch"), s.batch);
    st.setValue(QStringLiteral("lr"), d->lr->text().trimmed());
    st.setValue(QStringLiteral("warmup"), s.warmup);
    st.setValue(QStringLiteral("loraRank"), s.loraRank);
    st.setValue(QStringLiteral("evalEvery"), s.evalEvery);
    st.setValue(QStringLiteral("saveEvery"), s.saveEvery);
    st.setValue(QStringLiteral("processes"), s.processes);
    st.setValue(QStringLiteral("device"), s.device);
}

void FineTunePane::restoreSettings(QSettings& st) {
    const FineTuneSettings def;
    FineTuneSettings s;
    s.student = st.value(QStringLiteral("student")).toString();
    s.teacher = st.value(QStringLiteral("teacher")).toString();
    s.data = st.value(QStringLiteral("data")).toString();
    s.out = st.value(QStringLiteral("out")).toString();
    s.steps = st.value(QStringLiteral("steps"), def.steps).toInt();
    s.batch = st.value(QStringLiteral("batch"), def.batch).toInt();
    bool ok = false;
    s.lr = QLocale::c().toDouble(st.value(QStringLiteral("lr")).toString(), &ok);
    if (!ok) s.lr = def.lr;
    s.warmup = st.value(QStringLiteral("warmup"), def.warmup).toInt();
    s.loraRank = st.value(QStringLiteral("loraRank"), def.loraRank).toInt();
    s.evalEvery = st.value(QStringLiteral("evalEvery"), def.evalEvery).toInt();
    s.saveEvery = st.value(QStringLiteral("saveEvery"), def.saveEvery).toInt();
    s.processes = st.value(QStringLiteral("processes"), def.processes).toInt();
    s.device = st.value(QStringLiteral("device"), def.device).toString();
    setSettings(s);
}

void FineTunePane::showEvent(QShowEvent* event) {
    // The dataset the documents pane built last, until the user picks one.
    if (d->data->text().trimmed().isEmpty()) d->data->setText(QSettings().value(kLastDatasetKey).toString());
    d->updateEnabled();
    Pane::showEvent(event);
}

void FineTunePane::start() {
    if (!d->busy) d->run(false);
}

void FineTunePane::resume() {
    if (!d->busy) d->run(true);
}

void FineTunePane::stop() {
    if (!d->busy || d->stopping) return;
    // The core stops before its next step, writes a checkpoint and returns; the pane stays
    // busy until then so Resume finds the checkpoint.
    d->stopping = true;
    d->jobs.cancelAll();
    d->cluster->stopLocal();
    d->status->setText(tr("Stopping: writing a checkpoint …"));
    d->updateEnabled();
}

// ---------------------------------------------------------------------------------------

void FineTunePane::Impl::build() {
    auto* layout = new QVBoxLayout(q);
    auto* split = new QSplitter(Qt::Horizontal);
    split->setObjectName(QStringLiteral("tune-split"));
    split->addWidget(buildSettings());
    split->addWidget(buildRun());
    split->setStretchFactor(0, 0);
    split->setStretchFactor(1, 1);
    split->setSizes({380, 800});
    layout->addWidget(split, 1);
}

QLineEdit* FineTunePane::Impl::pathRow(QFormLayout* form, const QString& label, const char* name,
                                       const QString& placeholder, bool folderMustExist) {
    auto* row = new QHBoxLayout;
    auto* edit = new QLineEdit;
    edit->setObjectName(QString::fromLatin1(name));
    edit->setPlaceholderText(placeholder);
    edit->setClearButtonEnabled(true);
    row->addWidget(edit, 1);
    auto* browse = new QToolButton;
    browse->setText(FineTunePane::tr("…"));
    browse->setToolTip(FineTunePane::tr("Choose a folder"));
    row->addWidget(browse);
    QObject::connect(browse, &QToolButton::clicked, q, [this, edit, label, folderMustExist] {
        QString start = edit->text().trimmed();
        if (start.isEmpty() && session->hasModel()) start = QFileInfo(session->directory()).absolutePath();
        QString dir = QFileDialog::getExistingDirectory(q, label, start,
                                                        folderMustExist ? QFileDialog::ShowDirsOnly : QFileDialog::Options());
        if (dir.isEmpty()) return;
        edit->setText(QDir::toNativeSeparators(dir));
        if (edit == out) outEdited = true;
        updateEnabled();
    });
    form->addRow(label, row);
    return edit;
}

QWidget* FineTunePane::Impl::buildSettings() {
    auto* box = new QGroupBox(FineTunePane::tr("Training"));
    auto* form = new QFormLayout(box);
    student = pathRow(form, FineTunePane::tr("Student:"), "tune-student", FineTunePane::tr("the open model"), true);
    student->setToolTip(FineTunePane::tr("The model to train (a compressed one too); empty: the open model"));
    teacher = pathRow(form, FineTunePane::tr("Teacher:"), "tune-teacher", FineTunePane::tr("optional: distil from this model"), true);
    teacher->setToolTip(FineTunePane::tr("With a teacher the loss mixes the teacher's softened logits (KL, T = 2) "
                                         "and the data (cross-entropy) half and half"));
    data = pathRow(form, FineTunePane::tr("Dataset:"), "tune-data",
                   FineTunePane::tr("a folder from the Documents pane or `qcompress data build`"), true);
    data->setToolTip(FineTunePane::tr("dataset.jsonl (tokenized with the student's tokenizer) or ids.safetensors; "
                                      "5% of the windows are held out for the evaluation loss"));
    out = pathRow(form, FineTunePane::tr("Output:"), "tune-out", FineTunePane::tr("new folder: checkpoints/ and model/"), false);

    auto spin = [&](const char* name, int lo, int hi, int value, const QString& tip, const QString& special = {}) {
        auto* s = new QSpinBox;
        s->setObjectName(QString::fromLatin1(name));
        s->setRange(lo, hi);
        s->setValue(value);
        s->setToolTip(tip);
        if (!special.isEmpty()) s->setSpecialValueText(special);
        s->setGroupSeparatorShown(true);
        return s;
    };
    const FineTuneSettings def;
    steps = spin("tune-steps", 1, 10000000, def.steps, FineTunePane::tr("Optimizer steps"));
    batch = spin("tune-batch", 1, 1024, def.batch, FineTunePane::tr("Windows per step"));
    lr = new QLineEdit(QLocale::c().toString(def.lr, 'g', 6));
    lr->setObjectName(QStringLiteral("tune-lr"));
    lr->setToolTip(FineTunePane::tr("Peak learning rate (after warmup; cosine decay to 0), e.g. 3e-4"));
    warmup = spin("tune-warmup", 0, 10000000, def.warmup, FineTunePane::tr("Linear warmup steps"));
    loraRank = spin("tune-lora-rank", 0, 4096, def.loraRank,
                    FineTunePane::tr("Train LoRA adapters of this rank on the attention and MLP maps (merged on "
                                     "export); 0 trains every weight"),
                    FineTunePane::tr("0 (full)"));
    evalEvery = spin("tune-eval-every", 0, 10000000, def.evalEvery,
                     FineTunePane::tr("Held-out loss every N steps (and after the last)"), FineTunePane::tr("at the end"));
    saveEvery = spin("tune-save-every", 0, 10000000, def.saveEvery,
                     FineTunePane::tr("Checkpoint every N steps. Training keeps its work by default: a checkpoint every "
                                      "tenth of the steps or every 30 minutes, whichever comes first, the newest 3 "
                                      "kept, and always on Stop and at the end; after a crash Resume continues from the newest"),
                     FineTunePane::tr("auto (⅒ of steps or 30 min)"));
    form->addRow(FineTunePane::tr("Steps:"), steps);
    form->addRow(FineTunePane::tr("Batch:"), batch);
    form->addRow(FineTunePane::tr("Learning rate:"), lr);
    form->addRow(FineTunePane::tr("Warmup:"), warmup);
    form->addRow(FineTunePane::tr("LoRA rank:"), loraRank);
    form->addRow(FineTunePane::tr("Evaluate every:"), evalEvery);
    form->addRow(FineTunePane::tr("Save every:"), saveEvery);
    device = new QComboBox;
    device->setObjectName(QStringLiteral("tune-device"));
    device->addItem(FineTunePane::tr("CPU (fp32, every core)"), QStringLiteral("cpu"));
    device->addItem(FineTunePane::tr("CUDA (bf16 autocast)"), QStringLiteral("cuda"));
    if (!qcw::cuda::available()) {
        // Shown, not hidden: the option exists, this build or machine cannot use it.
        if (auto* items = qobject_cast<QStandardItemModel*>(device->model())) items->item(1)->setEnabled(false);
        device->setItemData(1, FineTunePane::tr("Needs a build with QCW_CUDA=ON (a CUDA LibTorch) and a GPU"),
                            Qt::ToolTipRole);
    }
    form->addRow(FineTunePane::tr("Device:"), device);
    cluster = new ClusterBox;
    cluster->setArgumentsSource([this] { return trainArguments(jobFromFields(false), data->text().trimmed()); });
    form->addRow(FineTunePane::tr("Processes:"), cluster);
    QObject::connect(cluster, &ClusterBox::progress, q, [this](const qcw::Progress& p) { applyProgress({p}); });
    QObject::connect(cluster, &ClusterBox::localFinished, q,
                     [this](const qcw::TrainJobResult& r, qulonglong windows, const QString& error) {
                         Outcome<RunResult> o;
                         if (error.isEmpty()) o.value = RunResult{r, std::size_t(windows), 0, 0};
                         o.error = error;
                         finished(generation, std::move(o));
                     });

    startButton = new QPushButton(FineTunePane::tr("&Start"));
    startButton->setObjectName(QStringLiteral("tune-start"));
    startButton->setDefault(true);
    stopButton = new QPushButton(FineTunePane::tr("S&top"));
    stopButton->setObjectName(QStringLiteral("tune-stop"));
    stopButton->setToolTip(FineTunePane::tr("Stop after the current step; a checkpoint is written"));
    resumeButton = new QPushButton(FineTunePane::tr("&Resume"));
    resumeButton->setObjectName(QStringLiteral("tune-resume"));
    resumeButton->setToolTip(FineTunePane::tr("Continue from the newest checkpoint in the output folder "
                                              "(same dataset, batch and LoRA rank)"));
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(startButton);
    buttons->addWidget(stopButton);
    buttons->addWidget(resumeButton);
    form->addRow(buttons);
    openResult = new QPushButton(FineTunePane::tr("Open Trained Model"));
    openResult->setObjectName(QStringLiteral("tune-open-result"));
    openResult->setToolTip(FineTunePane::tr("Open OUT/model in the workbench"));
    form->addRow(openResult);

    QObject::connect(startButton, &QPushButton::clicked, q, &FineTunePane::start);
    QObject::connect(stopButton, &QPushButton::clicked, q, &FineTunePane::stop);
    QObject::connect(resumeButton, &QPushButton::clicked, q, &FineTunePane::resume);
    QObject::connect(openResult, &QPushButton::clicked, q, [this] {
        if (!lastModel.isEmpty()) session->open(lastModel);
    });
    QObject::connect(student, &QLineEdit::textChanged, q, [this] { updateDefaults(); });
    QObject::connect(out, &QLineEdit::textEdited, q, [this](const QString& text) {
        outEdited = !text.trimmed().isEmpty();
        if (!outEdited) updateDefaults();
        updateEnabled();
    });
    QObject::connect(out, &QLineEdit::textChanged, q, [this] { updateEnabled(); });
    return box;
}

QWidget* FineTunePane::Impl::buildRun() {
    auto* w = new QWidget;
    auto* v = new QVBoxLayout(w);
    v->setContentsMargins(0, 0, 0, 0);
    plot = new QCustomPlot;
    plot->setObjectName(QStringLiteral("tune-plot"));
    plot->setMinimumHeight(220);
    plot->setNoAntialiasingOnDrag(true);
    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot->addGraph();
    plot->graph(0)->setName(FineTunePane::tr("training loss"));
    plot->graph(0)->setPen(QPen(QColor(0x1e, 0x88, 0xe5), 1.5));
    plot->graph(0)->setAdaptiveSampling(true);
    plot->addGraph();
    plot->graph(1)->setName(FineTunePane::tr("held-out loss"));
    plot->graph(1)->setPen(QPen(QColor(0xe5, 0x39, 0x35), 2.0));
    plot->graph(1)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 6));
    plot->addGraph(plot->xAxis, plot->yAxis2);
    plot->graph(2)->setName(FineTunePane::tr("learning rate (right)"));
    plot->graph(2)->setPen(QPen(QColor(0x75, 0x75, 0x75), 1.2, Qt::DashLine));
    plot->xAxis->setLabel(FineTunePane::tr("step"));
    plot->yAxis->setLabel(FineTunePane::tr("loss (nats/token)"));
    plot->yAxis2->setLabel(FineTunePane::tr("learning rate"));
    plot->yAxis2->setVisible(true);
    plot->legend->setVisible(true);
    plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    v->addWidget(plot, 1);

    auto* numbers = new QHBoxLayout;
    numbers->setSpacing(24);
    auto label = [&](const char* name) {
        auto* l = new QLabel(QStringLiteral("\u2014"));
        l->setObjectName(QString::fromLatin1(name));
        l->setTextInteractionFlags(Qt::TextSelectableByMouse);
        numbers->addWidget(l);
        return l;
    };
    stepLabel = label("tune-step");
    lossLabel = label("tune-loss");
    speedLabel = label("tune-speed");
    etaLabel = label("tune-eta");
    numbers->addStretch(1);
    v->addLayout(numbers);
    progress = new QProgressBar;
    progress->setObjectName(QStringLiteral("tune-progress"));
    progress->setRange(0, 1);
    progress->setValue(0);
    v->addWidget(progress);
    status = new QLabel(FineTunePane::tr("Idle."));
    status->setObjectName(QStringLiteral("tune-status"));
    status->setWordWrap(true);
    status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    v->addWidget(status);
    error = new QLabel;
    error->setObjectName(QStringLiteral("tune-error"));
    error->setTextInteractionFlags(Qt::TextSelectableByMouse);
    error->setStyleSheet(QStringLiteral("color: #c62828;"));
    error->setVisible(false);
    v->addWidget(error);
    clearPlot();
    return w;
}

void FineTunePane::Impl::updateDefaults() {
    const QString dir = q->studentDir();
    student->setPlaceholderText(session->hasModel()
                                    ? FineTunePane::tr("the open model: %1").arg(QFileInfo(session->directory()).fileName())
                                    : FineTunePane::tr("open a model, or choose a model folder"));
    if (!outEdited) {
        QString o;
        if (!dir.isEmpty()) {
            const QString base = QDir::cleanPath(dir) + QStringLiteral("-tuned");
            o = base;
            // A folder of an earlier run is not reused by default (Resume needs it named).
            for (int i = 2; nonEmptyDir(o) && i < 1000; ++i) o = base + QStringLiteral("-%1").arg(i);
        }
        out->setText(QDir::toNativeSeparators(o));
    }
    updateEnabled();
}

void FineTunePane::Impl::updateEnabled() {
    startButton->setEnabled(!busy);
    stopButton->setEnabled(busy && !stopping);
    resumeButton->setEnabled(q->canResume());
    openResult->setEnabled(!busy && !lastModel.isEmpty() && isModelDir(lastModel));
    for (QWidget* w : std::initializer_list<QWidget*>{student, teacher, data, out, steps, batch, lr, warmup, loraRank,
                                                      evalEvery, saveEvery, device})
        w->setEnabled(!busy);
}

void FineTunePane::Impl::setBusy(bool on) {
    if (busy == on) return;
    busy = on;
    if (!on) stopping = false;
    updateEnabled();
    emit q->busyChanged(on);
}

void FineTunePane::Impl::showStatusBar(const QString& message) {
    if (auto* w = qobject_cast<QMainWindow*>(q->window())) w->statusBar()->showMessage(message, 10000);
}

void FineTunePane::Impl::showError(const QString& message) {
    lastError = message;
    error->setText(message);
    error->setToolTip(message);
    error->setVisible(!message.isEmpty());
    if (!message.isEmpty()) showStatusBar(FineTunePane::tr("Fine-tuning: %1").arg(message));
}

// The one-line reason Start (or Resume) cannot run, empty when it can. Cheap checks only
// (a few stat calls); everything else is the core's to say, from the worker.
QString FineTunePane::Impl::check(bool resume, double& lrValue) const {
    const QString s = q->studentDir();
    if (s.isEmpty()) return FineTunePane::tr("Open a model or choose a student model folder.");
    if (!isModelDir(s)) return FineTunePane::tr("%1: not a model folder (no config.json)").arg(QDir::toNativeSeparators(s));
    const QString t = teacher->text().trimmed();
    if (!t.isEmpty() && !isModelDir(t))
        return FineTunePane::tr("%1: not a model folder (no config.json)").arg(QDir::toNativeSeparators(t));
    const QString dataDir = data->text().trimmed();
    if (dataDir.isEmpty()) return FineTunePane::tr("Choose a dataset folder (build one in the Documents pane).");
    if (!QFileInfo(dataDir).isDir()) return FineTunePane::tr("%1: no such folder").arg(QDir::toNativeSeparators(dataDir));
    if (!QFileInfo::exists(dataDir + QStringLiteral("/dataset.jsonl")) &&
        !QFileInfo::exists(dataDir + QStringLiteral("/ids.safetensors")))
        return FineTunePane::tr("%1: has neither dataset.jsonl nor ids.safetensors").arg(QDir::toNativeSeparators(dataDir));
    bool ok = false;
    lrValue = QLocale::c().toDouble(lr->text().trimmed(), &ok);
    if (!ok || !(lrValue > 0) || lrValue > 1)
        return FineTunePane::tr("learning rate '%1': expected a number in (0, 1], e.g. 3e-4").arg(lr->text().trimmed());
    const QString o = QDir::cleanPath(out->text().trimmed());
    if (out->text().trimmed().isEmpty()) return FineTunePane::tr("Choose an output folder.");
    const QString shown = QDir::toNativeSeparators(o);
    if (resume) {
        if (!hasCheckpoint(o)) return FineTunePane::tr("%1: holds no checkpoint to resume from").arg(shown);
        return {};
    }
    if (hasCheckpoint(o))
        return FineTunePane::tr("%1: holds checkpoints of an earlier run; Resume continues it, or choose another "
                                "output folder")
            .arg(shown);
    if (nonEmptyDir(o)) return FineTunePane::tr("%1: is not empty; choose a new or empty output folder").arg(shown);
    return {};
}

void FineTunePane::Impl::clearPlot() {
    for (int g = 0; g < plot->graphCount(); ++g) plot->graph(g)->data()->clear();
    lossMin = std::numeric_limits<double>::infinity();
    lossMax = -std::numeric_limits<double>::infinity();
    lrMax = 0;
    plot->xAxis->setRange(0, 1);
    plot->yAxis->setRange(0, 1);
    plot->yAxis2->setRange(0, 1);
    plot->replot(QCustomPlot::rpQueuedReplot);
}

qcw::TrainJob FineTunePane::Impl::jobFromFields(bool resume) const {
    qcw::TrainJob job;
    job.student = QDir::toNativeSeparators(q->studentDir()).toStdString();
    job.teacher = QDir::toNativeSeparators(teacher->text().trimmed()).toStdString();
    job.out = QDir::toNativeSeparators(QDir::cleanPath(out->text().trimmed())).toStdString();
    job.steps = steps->value();
    job.batch = batch->value();
    job.lr = QLocale::c().toDouble(lr->text().trimmed());
    job.warmup = warmup->value();
    job.loraRank = loraRank->value();
    job.device = device->currentData().toString().toStdString();
    job.evalEvery = evalEvery->value();
    job.saveEvery = saveEvery->value() > 0 ? saveEvery->value() : -1;  // 0 in the pane: the periodic default
    job.resume = resume;
    return job;
}

void FineTunePane::Impl::run(bool resume) {
    {
        // What the user asked for is remembered now, not only when the window closes.
        QSettings s;
        s.beginGroup(QStringLiteral("panes/fine-tuning"));
        q->saveSettings(s);
    }
    double lrValue = 0;
    const QString problem = check(resume, lrValue);
    if (!problem.isEmpty()) {
        showError(problem);
        emit q->runFinished(false, false, problem);
        return;
    }
    qcw::TrainJob job = jobFromFields(resume);
    job.lr = lrValue;
    const std::string dataDir = QDir::toNativeSeparators(data->text().trimmed()).toStdString();

    const quint64 gen = ++generation;
    showError(QString());
    if (!resume) clearPlot();
    step = 0;
    total = job.steps;
    lastModel.clear();
    progress->setRange(0, 0);
    status->setText(resume ? FineTunePane::tr("Resuming …") : FineTunePane::tr("Starting …"));
    stepLabel->setText(FineTunePane::tr("Step \u2014 / %1").arg(formatCount(total)));
    speedLabel->setText(QStringLiteral("\u2014"));
    etaLabel->setText(QStringLiteral("\u2014"));
    lossLabel->setText(QStringLiteral("\u2014"));
    setBusy(true);

    if (cluster->processes() > 1) {  // ranks in processes of their own: qcompress launch
        cluster->startLocal(trainArguments(job, QString::fromStdString(dataDir)),
                            QDir::tempPath() + QStringLiteral("/qcw-finetune-%1.jsonl").arg(QCoreApplication::applicationPid()),
                            job.steps);
        return;
    }
    if (feed) feed->close();
    Impl* self = this;
    feed = ProgressFeed::create(q, [self, gen](const std::vector<qcw::Progress>& batch) {
        if (gen == self->generation) self->applyProgress(batch);
    });
    auto f = feed;
    jobs.run(
        [job, dataDir, f](qcw::RunContext& ctx) mutable {
            ctx.setCallback(f->callback());
            ctx.report("data", 0, 0, {}, "reading " + dataDir);
            qcw::TrainDataOptions o;
            o.withMaxEvalWindows(kMaxEvalWindows);
            o.tokenizerFor = "the dataset's dataset.jsonl";
            qcw::TrainData td = qcw::loadTrainData(dataDir, job.student, o);
            ctx.checkCancelled();
            RunResult r;
            r.trainWindows = td.windows.size();
            r.evalWindows = td.evalWindows.size();
            r.seqLen = td.seqLen;
            job.windows = std::move(td.windows);
            job.evalWindows = std::move(td.evalWindows);
            r.train = qcw::runTrainJob(job, ctx);
            return r;
        },
        [this, gen](Outcome<RunResult> outcome) { finished(gen, std::move(outcome)); });
}

void FineTunePane::Impl::applyProgress(const std::vector<qcw::Progress>& events) {
    const qcw::Progress* lastTrain = nullptr;
    for (const qcw::Progress& p : events) {
        if (p.stage != "train") {
            if (!p.message.empty()) status->setText(QString::fromStdString(p.message));
            continue;
        }
        lastTrain = &p;
        const double x = double(p.step);
        auto metric = [&](const char* name) {
            auto it = p.metrics.find(name);
            return it == p.metrics.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
        };
        const double loss = metric("loss"), eval = metric("eval_loss"), rate = metric("lr");
        if (std::isfinite(loss)) {
            plot->graph(0)->addData(x, loss);
            lossMin = std::min(lossMin, loss);
            lossMax = std::max(lossMax, loss);
        }
        if (std::isfinite(eval)) {
            plot->graph(1)->addData(x, eval);
            lossMin = std::min(lossMin, eval);
            lossMax = std::max(lossMax, eval);
        }
        if (std::isfinite(rate)) {
            plot->graph(2)->addData(x, rate);
            lrMax = std::max(lrMax, rate);
        }
    }
    if (!lastTrain) return;
    const qcw::Progress& p = *lastTrain;
    step = p.step;
    total = p.total;
    auto metric = [&](const char* name) {
        auto it = p.metrics.find(name);
        return it == p.metrics.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
    };
    if (std::isfinite(lossMin)) {
        const double pad = std::max(1e-6, 0.05 * (lossMax - lossMin));
        plot->yAxis->setRange(std::max(0.0, lossMin - pad), lossMax + pad);
    }
    if (lrMax > 0) plot->yAxis2->setRange(0, lrMax * 1.05);
    plot->xAxis->setRange(0, std::max<double>(1, double(p.total)));
    plot->replot(QCustomPlot::rpQueuedReplot);

    if (p.total > 0) {
        const int max = static_cast<int>(std::min<long long>(p.total, 1000000000));
        progress->setRange(0, max);
        progress->setValue(static_cast<int>(std::min(p.step, p.total)));
    }
    stepLabel->setText(FineTunePane::tr("Step %1 / %2").arg(formatCount(p.step), formatCount(p.total)));
    QString loss = FineTunePane::tr("loss %1").arg(number(metric("loss")));
    const int evalCount = plot->graph(1)->dataCount();
    if (evalCount > 0)
        loss += FineTunePane::tr(", held-out %1").arg(number((plot->graph(1)->data()->constEnd() - 1)->value));
    lossLabel->setText(loss);
    speedLabel->setText(FineTunePane::tr("%1 tokens/s").arg(formatCount(std::llround(metric("tokens_per_s")))));
    etaLabel->setText(FineTunePane::tr("ETA %1").arg(durationText(metric("eta_s"))));
    if (!stopping) status->setText(FineTunePane::tr("Training …"));
}

void FineTunePane::Impl::finished(quint64 gen, Outcome<RunResult> outcome) {
    if (gen != generation) return;
    if (feed) {
        feed->flushNow();
        feed->close();
    }
    setBusy(false);
    progress->setRange(0, std::max<int>(1, static_cast<int>(std::min<long long>(total, 1000000000))));
    if (outcome.value) {
        const qcw::TrainJobResult& r = outcome.value->train;
        progress->setValue(static_cast<int>(std::min<long long>(r.step, total)));
        step = r.step;
        if (r.cancelled) {
            const QString msg = FineTunePane::tr("Stopped at step %1; checkpoint %2 written. Resume continues from it.")
                                    .arg(formatCount(r.step), QDir::toNativeSeparators(QString::fromStdString(r.lastCheckpoint)));
            status->setText(msg);
            showStatusBar(msg);
            updateEnabled();
            emit q->runFinished(false, true, msg);
            return;
        }
        lastModel = QString::fromStdString(r.modelDir);
        QString msg = FineTunePane::tr("Trained to step %1 (%2 train windows of %3 tokens): loss %4")
                          .arg(formatCount(r.step), formatCount(static_cast<std::int64_t>(outcome.value->trainWindows)))
                          .arg(outcome.value->seqLen)
                          .arg(number(r.finalLoss));
        if (std::isfinite(r.lastEvalLoss)) msg += FineTunePane::tr(", held-out %1").arg(number(r.lastEvalLoss));
        msg += FineTunePane::tr(", %1 tokens/s").arg(formatCount(std::llround(r.tokensPerSecond)));
        if (r.alreadyFinished)  // resumed a finished run: nothing ran, so no loss or speed of this call
            msg = FineTunePane::tr("This run had already finished at step %1 (last loss %2); nothing to train, raise "
                                   "Steps to go on").arg(formatCount(r.step), number(r.finalLoss));
        if (r.stoppedEarly) msg += FineTunePane::tr(", stopped early");
        if (!lastModel.isEmpty()) msg += FineTunePane::tr("; model written to %1").arg(QDir::toNativeSeparators(lastModel));
        status->setText(msg);
        etaLabel->setText(FineTunePane::tr("done"));
        showStatusBar(msg);
        updateEnabled();
        emit q->runFinished(true, false, msg);
        return;
    }
    progress->setValue(0);
    if (outcome.cancelled) {
        const QString msg = FineTunePane::tr("Stopped before training began.");
        status->setText(msg);
        updateEnabled();
        emit q->runFinished(false, true, msg);
        return;
    }
    const QString message = outcome.error.isEmpty() ? FineTunePane::tr("unknown error") : outcome.error;
    status->setText(FineTunePane::tr("Failed."));
    showError(message);
    updateEnabled();
    emit q->runFinished(false, false, message);
}

}  // namespace qcw::ui
