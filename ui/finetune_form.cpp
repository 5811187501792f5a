#include "ui/finetune_form.h"

#include "ui/finetune_cluster.h"
#include "ui/model_session.h"

#include "model/cuda_support.h"

#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QLocale>
#include <QPushButton>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QToolButton>

#include <limits>

namespace qcw::ui {

namespace {

bool isModelDir(const QString& dir) { return QFileInfo::exists(dir + QStringLiteral("/config.json")); }

bool nonEmptyDir(const QString& dir) {
    const QFileInfo info(dir);
    return info.exists() && (!info.isDir() || !QDir(dir).isEmpty(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden));
}

}  // namespace

bool hasTrainingCheckpoint(const QString& out) {
    if (out.isEmpty()) return false;
    return !QDir(out + QStringLiteral("/checkpoints")).entryList({QStringLiteral("step-*")}, QDir::Dirs).isEmpty();
}

QLineEdit* FineTuneForm::pathRow(QFormLayout* form, const QString& label, const char* name,
                                       const QString& placeholder, bool folderMustExist) {
    auto* row = new QHBoxLayout;
    auto* edit = new QLineEdit;
    edit->setObjectName(QString::fromLatin1(name));
    edit->setPlaceholderText(placeholder);
    edit->setClearButtonEnabled(true);
    row->addWidget(edit, 1);
    auto* browse = new QToolButton;
    browse->setText(tr("…"));
    browse->setToolTip(tr("Choose a folder"));
    row->addWidget(browse);
    connect(browse, &QToolButton::clicked, this, [this, edit, label, folderMustExist] {
        QString start = edit->text().trimmed();
        if (start.isEmpty() && session_->hasModel()) start = QFileInfo(session_->directory()).absolutePath();
        QString dir = QFileDialog::getExistingDirectory(this, label, start,
                                                        folderMustExist ? QFileDialog::ShowDirsOnly : QFileDialog::Options());
        if (dir.isEmpty()) return;
        edit->setText(QDir::toNativeSeparators(dir));
        if (edit == out_) outEdited_ = true;
        emit fieldsChanged();
    });
    form->addRow(label, row);
    return edit;
}

FineTuneForm::FineTuneForm(ModelSession* session, QWidget* parent) : QGroupBox(tr("Training"), parent), session_(session) {
    auto* form = new QFormLayout(this);
    student_ = pathRow(form, tr("Student:"), "tune-student", tr("the open model"), true);
    student_->setToolTip(tr("The model to train (a compressed one too); empty: the open model"));
    teacher_ = pathRow(form, tr("Teacher:"), "tune-teacher", tr("optional: distil from this model"), true);
    teacher_->setToolTip(tr("With a teacher the loss mixes the teacher's softened logits (KL, T = 2) "
                                         "and the data (cross-entropy) half and half"));
    data_ = pathRow(form, tr("Dataset:"), "tune-data",
                   tr("a folder from the Documents pane or `qcompress data build`"), true);
    data_->setToolTip(tr("dataset.jsonl (tokenized with the student's tokenizer) or ids.safetensors; "
                                      "5% of the windows are held out for the evaluation loss"));
    out_ = pathRow(form, tr("Output:"), "tune-out", tr("new folder: checkpoints/ and model/"), false);

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
    steps_ = spin("tune-steps", 1, 10000000, def.steps, tr("Optimizer steps"));
    batch_ = spin("tune-batch", 1, 1024, def.batch, tr("Windows per step"));
    lr_ = new QLineEdit(QLocale::c().toString(def.lr, 'g', 6));
    lr_->setObjectName(QStringLiteral("tune-lr"));
    lr_->setToolTip(tr("Peak learning rate (after warmup; cosine decay to 0), e.g. 3e-4"));
    warmup_ = spin("tune-warmup", 0, 10000000, def.warmup, tr("Linear warmup steps"));
    loraRank_ = spin("tune-lora-rank", 0, 4096, def.loraRank,
                    tr("Train LoRA adapters of this rank on the attention and MLP maps (merged on "
                                     "export); 0 trains every weight"),
                    tr("0 (full)"));
    evalEvery_ = spin("tune-eval-every", 0, 10000000, def.evalEvery,
                     tr("Held-out loss every N steps (and after the last)"), tr("at the end"));
    saveEvery_ = spin("tune-save-every", 0, 10000000, def.saveEvery,
                     tr("Checkpoint every N steps. Training keeps its work by default: a checkpoint every "
                                      "tenth of the steps or every 30 minutes, whichever comes first, the newest 3 "
                                      "kept, and always on Stop and at the end; after a crash Resume continues from the newest"),
                     tr("auto (⅒ of steps or 30 min)"));
    form->addRow(tr("Steps:"), steps_);
    form->addRow(tr("Batch:"), batch_);
    form->addRow(tr("Learning rate:"), lr_);
    form->addRow(tr("Warmup:"), warmup_);
    form->addRow(tr("LoRA rank:"), loraRank_);
    form->addRow(tr("Evaluate every:"), evalEvery_);
    form->addRow(tr("Save every:"), saveEvery_);
    device_ = new QComboBox;
    device_->setObjectName(QStringLiteral("tune-device"));
    device_->addItem(tr("CPU (fp32, every core)"), QStringLiteral("cpu"));
    device_->addItem(tr("CUDA (bf16 autocast)"), QStringLiteral("cuda"));
    if (!qcw::cuda::available()) {
        // Shown, not hidden: the option exists, this build or machine cannot use it.
        if (auto* items = qobject_cast<QStandardItemModel*>(device_->model())) items->item(1)->setEnabled(false);
        device_->setItemData(1, tr("Needs a build with QCW_CUDA=ON (a CUDA LibTorch) and a GPU"),
                            Qt::ToolTipRole);
    }
    form->addRow(tr("Device:"), device_);
    cluster_ = new ClusterBox;
    cluster_->setArgumentsSource([this] { return trainArguments(job(false), data_->text().trimmed()); });
    form->addRow(tr("Processes:"), cluster_);
    startButton_ = new QPushButton(tr("&Start"));
    startButton_->setObjectName(QStringLiteral("tune-start"));
    startButton_->setDefault(true);
    stopButton_ = new QPushButton(tr("S&top"));
    stopButton_->setObjectName(QStringLiteral("tune-stop"));
    stopButton_->setToolTip(tr("Stop after the current step; a checkpoint is written"));
    resumeButton_ = new QPushButton(tr("&Resume"));
    resumeButton_->setObjectName(QStringLiteral("tune-resume"));
    resumeButton_->setToolTip(tr("Continue from the newest checkpoint in the output folder "
                                              "(same dataset, batch and LoRA rank)"));
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(startButton_);
    buttons->addWidget(stopButton_);
    buttons->addWidget(resumeButton_);
    form->addRow(buttons);
    openResult_ = new QPushButton(tr("Open Trained Model"));
    openResult_->setObjectName(QStringLiteral("tune-open-result"));
    openResult_->setToolTip(tr("Open OUT/model in the workbench"));
    form->addRow(openResult_);

    connect(startButton_, &QPushButton::clicked, this, &FineTuneForm::startClicked);
    connect(stopButton_, &QPushButton::clicked, this, &FineTuneForm::stopClicked);
    connect(resumeButton_, &QPushButton::clicked, this, &FineTuneForm::resumeClicked);
    connect(openResult_, &QPushButton::clicked, this, &FineTuneForm::openResultClicked);
    connect(student_, &QLineEdit::textChanged, this, [this] { updateDefaults(); });
    connect(out_, &QLineEdit::textEdited, this, [this](const QString& text) {
        outEdited_ = !text.trimmed().isEmpty();
        if (!outEdited_) updateDefaults();
        emit fieldsChanged();
    });
    connect(out_, &QLineEdit::textChanged, this, [this] { emit fieldsChanged(); });
}

FineTuneSettings FineTuneForm::settings() const {
    FineTuneSettings s;
    s.student = student_->text().trimmed();
    s.teacher = teacher_->text().trimmed();
    s.data = data_->text().trimmed();
    s.out = out_->text().trimmed();
    s.steps = steps_->value();
    s.batch = batch_->value();
    bool ok = false;
    const double lr = QLocale::c().toDouble(lr_->text().trimmed(), &ok);
    s.lr = ok ? lr : std::numeric_limits<double>::quiet_NaN();
    s.warmup = warmup_->value();
    s.loraRank = loraRank_->value();
    s.evalEvery = evalEvery_->value();
    s.saveEvery = saveEvery_->value();
    s.processes = cluster_->processes();
    s.device = device_->currentData().toString();
    return s;
}

void FineTuneForm::setSettings(const FineTuneSettings& s) {
    student_->setText(s.student);
    teacher_->setText(s.teacher);
    data_->setText(s.data);
    out_->setText(s.out);
    outEdited_ = !s.out.isEmpty();
    steps_->setValue(s.steps);
    batch_->setValue(s.batch);
    lr_->setText(QLocale::c().toString(s.lr, 'g', 6));
    warmup_->setValue(s.warmup);
    loraRank_->setValue(s.loraRank);
    evalEvery_->setValue(s.evalEvery);
    saveEvery_->setValue(s.saveEvery);
    cluster_->setProcesses(s.processes);
    const int dev = device_->findData(s.device);
    if (dev >= 0 && device_->model()->index(dev, 0).flags().testFlag(Qt::ItemIsEnabled)) device_->setCurrentIndex(dev);
    updateDefaults();
}

QString FineTuneForm::learningRateText() const { return lr_->text().trimmed(); }
QString FineTuneForm::outputDir() const { return QDir::cleanPath(out_->text().trimmed()); }
QString FineTuneForm::dataDir() const { return data_->text().trimmed(); }

QString FineTuneForm::studentDir() const {
    const QString s = student_->text().trimmed();
    if (!s.isEmpty()) return QDir::cleanPath(s);
    return session_->hasModel() ? session_->directory() : QString();
}

void FineTuneForm::useDatasetIfEmpty(const QString& dir) {
    if (data_->text().trimmed().isEmpty()) data_->setText(dir);
}

void FineTuneForm::setControlsEnabled(bool busy, bool stopping, bool canResume, bool canOpenResult) {
    startButton_->setEnabled(!busy);
    stopButton_->setEnabled(busy && !stopping);
    resumeButton_->setEnabled(canResume);
    openResult_->setEnabled(canOpenResult);
    for (QWidget* w : std::initializer_list<QWidget*>{student_, teacher_, data_, out_, steps_, batch_, lr_, warmup_,
                                                      loraRank_, evalEvery_, saveEvery_, device_})
        w->setEnabled(!busy);
}

QString FineTuneForm::check(bool resume, double& lrValue) const {
    const QString s = studentDir();
    if (s.isEmpty()) return tr("Open a model or choose a student model folder.");
    if (!isModelDir(s)) return tr("%1: not a model folder (no config.json)").arg(QDir::toNativeSeparators(s));
    const QString t = teacher_->text().trimmed();
    if (!t.isEmpty() && !isModelDir(t))
        return tr("%1: not a model folder (no config.json)").arg(QDir::toNativeSeparators(t));
    const QString dataDir = data_->text().trimmed();
    if (dataDir.isEmpty()) return tr("Choose a dataset folder (build one in the Documents pane).");
    if (!QFileInfo(dataDir).isDir()) return tr("%1: no such folder").arg(QDir::toNativeSeparators(dataDir));
    if (!QFileInfo::exists(dataDir + QStringLiteral("/dataset.jsonl")) &&
        !QFileInfo::exists(dataDir + QStringLiteral("/ids.safetensors")))
        return tr("%1: has neither dataset.jsonl nor ids.safetensors").arg(QDir::toNativeSeparators(dataDir));
    bool ok = false;
    lrValue = QLocale::c().toDouble(lr_->text().trimmed(), &ok);
    if (!ok || !(lrValue > 0) || lrValue > 1)
        return tr("learning rate '%1': expected a number in (0, 1], e.g. 3e-4").arg(lr_->text().trimmed());
    const QString o = QDir::cleanPath(out_->text().trimmed());
    if (out_->text().trimmed().isEmpty()) return tr("Choose an output folder.");
    const QString shown = QDir::toNativeSeparators(o);
    if (resume) {
        if (!hasTrainingCheckpoint(o)) return tr("%1: holds no checkpoint to resume from").arg(shown);
        return {};
    }
    if (hasTrainingCheckpoint(o))
        return tr("%1: holds checkpoints of an earlier run; Resume continues it, or choose another "
                                "output folder")
            .arg(shown);
    if (nonEmptyDir(o)) return tr("%1: is not empty; choose a new or empty output folder").arg(shown);
    return {};
}

qcw::TrainJob FineTuneForm::job(bool resume) const {
    qcw::TrainJob job;
    job.student = QDir::toNativeSeparators(studentDir()).toStdString();
    job.teacher = QDir::toNativeSeparators(teacher_->text().trimmed()).toStdString();
    job.out = QDir::toNativeSeparators(QDir::cleanPath(out_->text().trimmed())).toStdString();
    job.steps = steps_->value();
    job.batch = batch_->value();
    job.lr = QLocale::c().toDouble(lr_->text().trimmed());
    job.warmup = warmup_->value();
    job.loraRank = loraRank_->value();
    job.device = device_->currentData().toString().toStdString();
    job.evalEvery = evalEvery_->value();
    job.saveEvery = saveEvery_->value() > 0 ? saveEvery_->value() : -1;  // 0 in the pane: the periodic default
    job.resume = resume;
    return job;
}

void FineTuneForm::updateDefaults() {
    const QString dir = studentDir();
    student_->setPlaceholderText(session_->hasModel()
                                    ? tr("the open model: %1").arg(QFileInfo(session_->directory()).fileName())
                                    : tr("open a model, or choose a model folder"));
    if (!outEdited_) {
        QString o;
        if (!dir.isEmpty()) {
            const QString base = QDir::cleanPath(dir) + QStringLiteral("-tuned");
            o = base;
            // A folder of an earlier run is not reused by default (Resume needs it named).
            for (int i = 2; nonEmptyDir(o) && i < 1000; ++i) o = base + QStringLiteral("-%1").arg(i);
        }
        out_->setText(QDir::toNativeSeparators(o));
    }
    emit fieldsChanged();
}

}  // namespace qcw::ui
