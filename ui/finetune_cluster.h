#pragma once
// The fine-tuning pane's data-parallel part: "Processes" (local ranks through `qcompress
// launch`) and "Export job script" (a torchrun command and a Slurm batch script running
// `qcompress train` with the pane's settings). A local run with more than one process runs
// the qcompress program beside this one and reads rank 0's step log for the live plot.
#include "train/train_api.h"

#include <QProcess>
#include <QString>
#include <QStringList>
#include <QWidget>

#include <functional>

class QSpinBox;
class QTimer;

namespace qcw::ui {

// The arguments after `qcompress train` for a job of the pane (data from dataDir).
QStringList trainArguments(const qcw::TrainJob& job, const QString& dataDir);
// Shell text for a job: every argument single-quoted where needed.
QString shellQuote(const QString& arg);
// `torchrun --nproc_per_node N --no-python qcompress train ARGS` (one node; a comment shows
// the flags for several nodes).
QString torchrunScript(const QStringList& trainArgs, int processesPerNode);
// An sbatch script: one task per rank, srun mapping SLURM_PROCID / SLURM_LOCALID /
// SLURM_NTASKS to RANK / LOCAL_RANK / WORLD_SIZE, MASTER_ADDR the first node.
QString slurmScript(const QStringList& trainArgs, int nodes, int tasksPerNode);

class ClusterBox : public QWidget {
    Q_OBJECT
public:
    explicit ClusterBox(QWidget* parent = nullptr);
    ~ClusterBox() override;

    int processes() const;
    void setProcesses(int n);
    // The arguments after `qcompress train` for the pane's current settings.
    void setArgumentsSource(std::function<QStringList()> source) { args_ = std::move(source); }

    // Local run of `qcompress launch --nproc processes() train ARGS --json --step-log LOG`.
    bool running() const;
    void startLocal(const QStringList& trainArgs, const QString& stepLog, long long totalSteps);
    void stopLocal();  // SIGINT to the launcher: every rank stops with a checkpoint

signals:
    // From rank 0's step log: a "train" progress event (step, total, loss, lr, tokens/s).
    void progress(const qcw::Progress& p);
    // The launcher ended: the result from its JSON (cancelled on Stop), or an error line.
    void localFinished(const qcw::TrainJobResult& result, qulonglong trainWindows, const QString& error);

private:
    void exportScripts();
    void pollLog();

    QSpinBox* processes_ = nullptr;
    std::function<QStringList()> args_;
    QProcess* proc_ = nullptr;
    QTimer* poll_ = nullptr;
    QString log_;
    qint64 logPos_ = 0;
    long long total_ = 0, lastStep_ = 0;
    QString out_;
};

}  // namespace qcw::ui
