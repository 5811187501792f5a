#include "ui/pane_finetune.h"

#include "ui/async.h"
#include "ui/finetune_cluster.h"
#include "ui/finetune_form.h"
#include "ui/format.h"
#include "ui/model_session.h"
#include "ui/progress_feed.h"
#include "ui/training_curves.h"

#include "common/error.h"
#include "train/train_api.h"
#include "data/train_data.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QMainWindow>
#include <QProgressBar>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QVBoxLayout>

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

    FineTuneForm* form = nullptr;
    QProgressBar* progress = nullptr;
    QLabel* stepLabel = nullptr;
    QLabel* speedLabel = nullptr;
    QLabel* etaLabel = nullptr;
    QLabel* lossLabel = nullptr;
    QLabel* status = nullptr;
    QLabel* error = nullptr;
    TrainingCurves* plot = nullptr;

    bool busy = false;
    bool stopping = false;
    quint64 generation = 0;
    long long step = 0, total = 0;
    QString lastError;
    QString lastModel;
    std::shared_ptr<ProgressFeed> feed;
    Jobs jobs;  // last: destroyed (cancelled and waited for) first

    void build();
    QWidget* buildRun();
    void updateEnabled();
    void setBusy(bool on);
    void showError(const QString& message);
    void showStatusBar(const QString& message);
    void run(bool resume);
    void applyProgress(const std::vector<qcw::Progress>& batch);
    void finished(quint64 gen, Outcome<RunResult> outcome);
};

FineTunePane::FineTunePane(const PaneContext& context, QWidget* parent)
    : Pane(context, parent), d(std::make_unique<Impl>()) {
    d->q = this;
    d->session = context.session;
    d->build();
    connect(d->session, &ModelSession::modelLoaded, this, [this] { d->form->updateDefaults(); });
    d->form->updateDefaults();
}

FineTunePane::~FineTunePane() = default;

bool FineTunePane::isBusy() const { return d->busy; }
QString FineTunePane::lastError() const { return d->lastError; }
long long FineTunePane::currentStep() const { return d->step; }
bool FineTunePane::canResume() const { return !d->busy && hasTrainingCheckpoint(d->form->outputDir()); }
QString FineTunePane::studentDir() const { return d->form->studentDir(); }
FineTuneSettings FineTunePane::settings() const { return d->form->settings(); }
void FineTunePane::setSettings(const FineTuneSettings& s) { d->form->setSettings(s); }

void FineTunePane::saveSettings(QSettings& st) const {
    const FineTuneSettings s = settings();
    st.setValue(QStringLiteral("student"), s.student);
    st.setValue(QStringLiteral("teacher"), s.teacher);
    st.setValue(QStringLiteral("data"), s.data);
    st.setValue(QStringLiteral("out"), d->form->outputEdited() ? s.out : QString());
    st.setValue(QStringLiteral("steps"), s.steps);
    st.setValue(QStringLiteral("batch"), s.batch);
    st.setValue(QStringLiteral("lr"), d->form->learningRateText());
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
    d->form->useDatasetIfEmpty(QSettings().value(kLastDatasetKey).toString());
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
    d->form->cluster()->stopLocal();
    d->status->setText(tr("Stopping: writing a checkpoint …"));
    d->updateEnabled();
}

// ---------------------------------------------------------------------------------------

void FineTunePane::Impl::build() {
    auto* layout = new QVBoxLayout(q);
    auto* split = new QSplitter(Qt::Horizontal);
    split->setObjectName(QStringLiteral("tune-split"));
    form = new FineTuneForm(session);
    split->addWidget(form);
    split->addWidget(buildRun());
    split->setStretchFactor(0, 0);
    split->setStretchFactor(1, 1);
    split->setSizes({380, 800});
    layout->addWidget(split, 1);

    QObject::connect(form, &FineTuneForm::startClicked, q, &FineTunePane::start);
    QObject::connect(form, &FineTuneForm::stopClicked, q, &FineTunePane::stop);
    QObject::connect(form, &FineTuneForm::resumeClicked, q, &FineTunePane::resume);
    QObject::connect(form, &FineTuneForm::openResultClicked, q, [this] {
        if (!lastModel.isEmpty()) session->open(lastModel);
    });
    QObject::connect(form, &FineTuneForm::fieldsChanged, q, [this] { updateEnabled(); });
    ClusterBox* cluster = form->cluster();
    QObject::connect(cluster, &ClusterBox::progress, q, [this](const qcw::Progress& p) { applyProgress({p}); });
    QObject::connect(cluster, &ClusterBox::localFinished, q,
                     [this](const qcw::TrainJobResult& r, qulonglong windows, const QString& error) {
                         Outcome<RunResult> o;
                         if (error.isEmpty()) o.value = RunResult{r, std::size_t(windows), 0, 0};
                         o.error = error;
                         finished(generation, std::move(o));
                     });
}

QWidget* FineTunePane::Impl::buildRun() {
    auto* w = new QWidget;
    auto* v = new QVBoxLayout(w);
    v->setContentsMargins(0, 0, 0, 0);
    plot = new TrainingCurves;
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
    return w;
}

void FineTunePane::Impl::updateEnabled() {
    form->setControlsEnabled(busy, stopping, q->canResume(), !busy && !lastModel.isEmpty() && isModelDir(lastModel));
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

void FineTunePane::Impl::run(bool resume) {
    {
        // What the user asked for is remembered now, not only when the window closes.
        QSettings s;
        s.beginGroup(QStringLiteral("panes/fine-tuning"));
        q->saveSettings(s);
    }
    double lrValue = 0;
    const QString problem = form->check(resume, lrValue);
    if (!problem.isEmpty()) {
        showError(problem);
        emit q->runFinished(false, false, problem);
        return;
    }
    qcw::TrainJob job = form->job(resume);
    job.lr = lrValue;
    const std::string dataDir = QDir::toNativeSeparators(form->dataDir()).toStdString();

    const quint64 gen = ++generation;
    showError(QString());
    if (!resume) plot->clear();
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

    if (form->cluster()->processes() > 1) {  // ranks in processes of their own: qcompress launch
        form->cluster()->startLocal(trainArguments(job, QString::fromStdString(dataDir)),
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
    for (const qcw::Progress& p : events)
        if (p.stage != "train" && !p.message.empty()) status->setText(QString::fromStdString(p.message));
    const qcw::Progress* lastTrain = plot->addEvents(events);
    if (!lastTrain) return;
    const qcw::Progress& p = *lastTrain;
    step = p.step;
    total = p.total;
    auto metric = [&](const char* name) {
        auto it = p.metrics.find(name);
        return it == p.metrics.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
    };
    if (p.total > 0) {
        const int max = static_cast<int>(std::min<long long>(p.total, 1000000000));
        progress->setRange(0, max);
        progress->setValue(static_cast<int>(std::min(p.step, p.total)));
    }
    stepLabel->setText(FineTunePane::tr("Step %1 / %2").arg(formatCount(p.step), formatCount(p.total)));
    QString loss = FineTunePane::tr("loss %1").arg(number(metric("loss")));
    if (plot->evalPoints() > 0) loss += FineTunePane::tr(", held-out %1").arg(number(plot->lastEvalLoss()));
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
