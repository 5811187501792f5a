#include "ui/finetune_cluster.h"

#include "common/error.h"
#include "common/files.h"

#include <QCoreApplication>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTabWidget>
#include <QTimer>
#include <QVBoxLayout>

#include <csignal>
#include <cmath>

namespace qcw::ui {

namespace {

// QCW_QCOMPRESS (tests, unusual installs), else the program beside this one, else PATH's.
QString qcompressProgram() {
    const QString env = qEnvironmentVariable("QCW_QCOMPRESS");
    if (!env.isEmpty()) return env;
    const QString beside = QCoreApplication::applicationDirPath() + QStringLiteral("/qcompress");
    return QFileInfo::exists(beside) ? beside : QStringLiteral("qcompress");
}

QString commandLine(const QStringList& trainArgs) {
    QStringList parts{QStringLiteral("qcompress"), QStringLiteral("train")};
    for (const QString& a : trainArgs) parts << shellQuote(a);
    return parts.join(QStringLiteral(" \\\n    "));
}

}  // namespace

QStringList trainArguments(const qcw::TrainJob& job, const QString& dataDir) {
    auto str = [](const std::string& x) { return QString::fromStdString(x); };
    QStringList a{QStringLiteral("--student"), str(job.student), QStringLiteral("--data"), dataDir,
                  QStringLiteral("--out"), str(job.out), QStringLiteral("--steps"), QString::number(job.steps),
                  QStringLiteral("--batch"), QString::number(job.batch), QStringLiteral("--lr"), QString::number(job.lr, 'g', 6),
                  QStringLiteral("--warmup"), QString::number(job.warmup), QStringLiteral("--eval-every"),
                  QString::number(job.evalEvery), QStringLiteral("--eval-windows"), QStringLiteral("16")};
    if (!job.teacher.empty()) a << QStringLiteral("--teacher") << str(job.teacher);
    if (job.loraRank > 0) a << QStringLiteral("--lora-rank") << QString::number(job.loraRank);
    if (job.saveEvery >= 0) a << QStringLiteral("--save-every") << QString::number(job.saveEvery);
    if (job.device != "cpu") a << QStringLiteral("--device") << str(job.device);
    if (job.resume) a << QStringLiteral("--resume");
    return a;
}

QString shellQuote(const QString& arg) {
    static const QString safe = QStringLiteral("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%");
    bool plain = !arg.isEmpty();
    for (QChar c : arg) plain = plain && safe.contains(c);
    if (plain) return arg;
    QString q = arg;
    q.replace(QStringLiteral("'"), QStringLiteral("'\\''"));
    return QStringLiteral("'") + q + QStringLiteral("'");
}

QString torchrunScript(const QStringList& trainArgs, int processesPerNode) {
    QString s = QStringLiteral("#!/bin/sh\n"
                               "# Data-parallel fine-tune under torchrun (exported by qcw). torchrun sets RANK, WORLD_SIZE,\n"
                               "# LOCAL_RANK, MASTER_ADDR and MASTER_PORT; --batch is the global batch, split over the ranks.\n"
                               "# Several nodes: run this on each with --nnodes=N --node_rank=I --rdzv_backend=c10d\n"
                               "# --rdzv_endpoint=HOST0:29500 in place of --standalone; OUT must be a shared folder.\n");
    s += QStringLiteral("torchrun --standalone --nnodes=1 --nproc_per_node=%1 --no-python \\\n    ").arg(processesPerNode);
    s += commandLine(trainArgs) + QStringLiteral("\n");
    return s;
}

QString slurmScript(const QStringList& trainArgs, int nodes, int tasksPerNode) {
    QString s = QStringLiteral("#!/bin/bash\n"
                               "# Data-parallel fine-tune under Slurm (exported by qcw): one task per rank.\n"
                               "#SBATCH --job-name=qcw-finetune\n"
                               "#SBATCH --nodes=%1\n"
                               "#SBATCH --ntasks-per-node=%2\n"
                               "#SBATCH --cpus-per-task=8\n"
                               "#SBATCH --time=24:00:00\n"
                               "set -euo pipefail\n"
                               "# Rank 0's node hosts the rendezvous; OUT must be on a filesystem every node sees.\n"
                               "export MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)\n"
                               "export MASTER_PORT=${MASTER_PORT:-29500}\n"
                               "cmd=(")
                    .arg(nodes)
                    .arg(tasksPerNode);
    QStringList parts{QStringLiteral("qcompress"), QStringLiteral("train")};
    for (const QString& a : trainArgs) parts << shellQuote(a);
    s += parts.join(QStringLiteral(" \\\n     ")) + QStringLiteral(")\n");
    s += QStringLiteral("# srun starts every task; each maps Slurm's numbering to the variables qcompress reads.\n"
                        "srun --kill-on-bad-exit=1 bash -c 'export RANK=$SLURM_PROCID LOCAL_RANK=$SLURM_LOCALID "
                        "WORLD_SIZE=$SLURM_NTASKS OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}; exec \"$@\"' qcw \"${cmd[@]}\"\n");
    return s;
}

ClusterBox::ClusterBox(QWidget* parent) : QWidget(parent) {
    auto* row = new QHBoxLayout(this);
    row->setContentsMargins(0, 0, 0, 0);
    processes_ = new QSpinBox;
    processes_->setObjectName(QStringLiteral("tune-processes"));
    processes_->setRange(1, 64);
    processes_->setValue(1);
    processes_->setToolTip(tr("Data-parallel ranks on this machine (qcompress launch, Gloo over localhost); the batch is "
                              "split over them. 1: train in this process"));
    auto* exportButton = new QPushButton(tr("Export Job Script…"));
    exportButton->setObjectName(QStringLiteral("tune-export-script"));
    exportButton->setToolTip(tr("A torchrun command and a Slurm batch script that run these settings on a cluster"));
    row->addWidget(processes_);
    row->addWidget(exportButton);
    row->addStretch(1);
    connect(exportButton, &QPushButton::clicked, this, &ClusterBox::exportScripts);
    poll_ = new QTimer(this);
    poll_->setInterval(250);
    connect(poll_, &QTimer::timeout, this, &ClusterBox::pollLog);
}

ClusterBox::~ClusterBox() {
    if (proc_ && proc_->state() != QProcess::NotRunning) {
        proc_->kill();
        proc_->waitForFinished(5000);
    }
}

int ClusterBox::processes() const { return processes_->value(); }
void ClusterBox::setProcesses(int n) { processes_->setValue(n); }
bool ClusterBox::running() const { return proc_ && proc_->state() != QProcess::NotRunning; }

void ClusterBox::exportScripts() {
    const QStringList args = args_ ? args_() : QStringList();
    const int n = std::max(2, processes());
    QDialog dlg(this);
    dlg.setWindowTitle(tr("Export Job Script"));
    auto* lay = new QVBoxLayout(&dlg);
    lay->addWidget(new QLabel(tr("The fine-tune with these settings as %1 data-parallel ranks; --batch is the global batch.")
                                  .arg(n)));
    auto* tabs = new QTabWidget;
    auto addTab = [&](const QString& name, const QString& text, const QString& file) {
        auto* page = new QWidget;
        auto* v = new QVBoxLayout(page);
        auto* edit = new QPlainTextEdit(text);
        edit->setObjectName(QStringLiteral("script-") + name.toLower());
        edit->setReadOnly(true);
        edit->setLineWrapMode(QPlainTextEdit::NoWrap);
        v->addWidget(edit);
        auto* save = new QPushButton(tr("Save %1…").arg(file));
        v->addWidget(save, 0, Qt::AlignRight);
        connect(save, &QPushButton::clicked, &dlg, [&dlg, text, file] {
            const QString path = QFileDialog::getSaveFileName(&dlg, tr("Save Job Script"), file);
            if (path.isEmpty()) return;
            try {
                qcw::writeTextFileAtomically(path.toStdString(), text.toStdString());
                QFile::setPermissions(path, QFile::permissions(path) | QFile::ExeOwner | QFile::ExeGroup);
            } catch (const std::exception& e) {
                QMessageBox::warning(&dlg, tr("Save Job Script"), QString::fromStdString(e.what()));
            }
        });
        tabs->addTab(page, name);
    };
    addTab(QStringLiteral("torchrun"), torchrunScript(args, n), QStringLiteral("finetune-torchrun.sh"));
    addTab(QStringLiteral("Slurm"), slurmScript(args, 1, n), QStringLiteral("finetune.sbatch"));
    lay->addWidget(tabs);
    auto* box = new QDialogButtonBox(QDialogButtonBox::Close);
    connect(box, &QDialogButtonBox::rejected, &dlg, &QDialog::reject);
    lay->addWidget(box);
    dlg.resize(760, 420);
    dlg.exec();
}

void ClusterBox::startLocal(const QStringList& trainArgs, const QString& stepLog, long long totalSteps) {
    if (running()) return;
    delete proc_;
    proc_ = new QProcess(this);
    log_ = stepLog + QStringLiteral(".rank0");
    for (int r = 0; r < processes(); ++r) QFile::remove(stepLog + QStringLiteral(".rank%1").arg(r));
    logPos_ = 0;
    total_ = totalSteps;
    lastStep_ = 0;
    const int outAt = trainArgs.indexOf(QStringLiteral("--out"));
    out_ = outAt >= 0 && outAt + 1 < trainArgs.size() ? trainArgs[outAt + 1] : QString();
    QStringList args{QStringLiteral("launch"), QStringLiteral("--nproc"), QString::number(processes()), QStringLiteral("train")};
    args << trainArgs << QStringLiteral("--json") << QStringLiteral("--step-log") << stepLog;
    connect(proc_, &QProcess::finished, this, [this, stepLog](int code, QProcess::ExitStatus) {
        poll_->stop();
        pollLog();
        for (int r = 0; r < processes(); ++r) QFile::remove(stepLog + QStringLiteral(".rank%1").arg(r));
        const QStringList errLines = QString::fromUtf8(proc_->readAllStandardError()).trimmed().split(QLatin1Char('\n'));
        const QJsonObject j = QJsonDocument::fromJson(proc_->readAllStandardOutput()).object();
        qcw::TrainJobResult r;
        auto num = [&](const char* k) { return j.value(QLatin1String(k)).isDouble() ? j.value(QLatin1String(k)).toDouble() : std::nan(""); };
        if (code == 0 && !j.isEmpty()) {
            r.step = j.value(QStringLiteral("step")).toInteger();
            r.finalLoss = num("final_loss");
            r.lastEvalLoss = num("eval_loss");
            r.tokensPerSecond = num("tokens_per_s");
            r.modelDir = j.value(QStringLiteral("model")).toString().toStdString();
            r.world = processes();
            emit localFinished(r, qulonglong(j.value(QStringLiteral("train_windows")).toInteger()), {});
        } else if (code == 130) {  // stopped: rank 0 wrote a checkpoint at the step every rank stopped after
            r.cancelled = true;
            r.step = lastStep_;
            const QStringList c = QDir(out_ + QStringLiteral("/checkpoints")).entryList({QStringLiteral("step-*")}, QDir::Dirs, QDir::Name);
            if (!c.isEmpty()) r.lastCheckpoint = (out_ + QStringLiteral("/checkpoints/") + c.last()).toStdString();
            emit localFinished(r, 0, {});
        } else {
            emit localFinished(r, 0, errLines.last().isEmpty() ? tr("qcompress launch exited with status %1").arg(code) : errLines.last());
        }
    });
    connect(proc_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
        if (e != QProcess::FailedToStart) return;
        poll_->stop();
        emit localFinished({}, 0, tr("cannot start %1: %2").arg(proc_->program(), proc_->errorString()));
    });
    proc_->start(qcompressProgram(), args);
    poll_->start();
}

void ClusterBox::stopLocal() {
    if (running()) ::kill(static_cast<pid_t>(proc_->processId()), SIGINT);
}

void ClusterBox::pollLog() {
    QFile f(log_);
    if (!f.open(QIODevice::ReadOnly) || !f.seek(logPos_)) return;
    while (!f.atEnd()) {
        const QByteArray line = f.readLine();
        if (!line.endsWith('\n')) break;  // the rank is still writing it: read it next time
        logPos_ += line.size();
        const QJsonObject j = QJsonDocument::fromJson(line).object();
        if (j.isEmpty()) continue;
        const double stepS = j.value(QStringLiteral("step_s")).toDouble();
        qcw::Progress p;
        p.stage = "train";
        p.step = lastStep_ = j.value(QStringLiteral("step")).toInteger();
        p.total = total_;
        p.metrics = {{"loss", j.value(QStringLiteral("loss")).toDouble()}, {"lr", j.value(QStringLiteral("lr")).toDouble()},
                     {"tokens_per_s", stepS > 0 ? j.value(QStringLiteral("tokens")).toDouble() / stepS : 0.0}};
        emit progress(p);
    }
}

}  // namespace qcw::ui
