#pragma once
// The fine-tuning pane: train the open (or any) model on a dataset folder, optionally
// distilling from a teacher, fully or with LoRA adapters. The core's training job runs on a
// background thread (train/train_api.h); the pane draws the training loss, the held-out loss
// and the learning rate live, with tokens/s, step x / N and the time left. Stop cancels at the
// next step (the core writes a checkpoint first); Resume continues from the newest checkpoint
// in the output folder. At the end the core exports the trained model to OUT/model. The pane
// runs the job; its fields are a FineTuneForm (finetune_form.h), its plot TrainingCurves.
#include "ui/pane.h"

#include <QString>

#include <memory>

namespace qcw::ui {

// What the pane's fields hold; remembered in QSettings.
struct FineTuneSettings {
    QString student;        // empty: the open model
    QString teacher;        // empty: no distillation
    QString data;           // dataset folder: dataset.jsonl (data build) or ids.safetensors
    QString out;            // OUT/checkpoints while training, OUT/model at the end
    int steps = 100;
    int batch = 4;
    double lr = 3e-4;
    int warmup = 10;
    int loraRank = 0;       // 0: all weights train
    int evalEvery = 20;     // 0: at the end only
    int saveEvery = 0;      // 0: every tenth of the steps or 30 minutes, whichever comes first (always on Stop and at the end)
    int processes = 1;      // local data-parallel ranks (qcompress launch); 1: in this process
    QString device = QStringLiteral("cpu");  // cpu, or cuda (bf16 autocast) when this build has CUDA and a GPU
};

class FineTunePane : public Pane {
    Q_OBJECT
public:
    FineTunePane(const PaneContext& context, QWidget* parent = nullptr);
    ~FineTunePane() override;

    FineTuneSettings settings() const;
    void setSettings(const FineTuneSettings& s);
    void saveSettings(QSettings& settings) const override;
    void restoreSettings(QSettings& settings) override;

    bool isBusy() const;
    bool canResume() const;     // the output folder holds a checkpoint and nothing runs
    QString lastError() const;  // of the last run; empty when it succeeded or was stopped
    QString studentDir() const; // the student that Start would train
    long long currentStep() const;

public slots:
    void start();
    void resume();
    void stop();

signals:
    void busyChanged(bool busy);
    // A run ended: finished (ok), stopped (checkpoint written) or failed (message).
    void runFinished(bool ok, bool stopped, const QString& message);

protected:
    void showEvent(QShowEvent* event) override;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

}  // namespace qcw::ui
