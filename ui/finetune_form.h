#pragma once
// The fine-tuning pane's "Training" box: student, teacher, dataset and output folders, the
// optimiser's settings, the device, the processes (ClusterBox) and the Start / Stop / Resume /
// Open Trained Model buttons. It holds and checks the fields; the pane runs the job.
#include "train/train_api.h"
#include "ui/pane_finetune.h"  // FineTuneSettings

#include <QGroupBox>

class QComboBox;
class QFormLayout;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace qcw::ui {

class ClusterBox;
class ModelSession;

class FineTuneForm : public QGroupBox {
    Q_OBJECT
public:
    explicit FineTuneForm(ModelSession* session, QWidget* parent = nullptr);

    FineTuneSettings settings() const;
    void setSettings(const FineTuneSettings& s);
    QString learningRateText() const;  // as typed
    bool outputEdited() const { return outEdited_; }  // else the output folder follows the student
    QString studentDir() const;        // the field, else the open model; empty when neither
    QString outputDir() const;         // cleaned
    QString dataDir() const;           // as typed, trimmed
    void useDatasetIfEmpty(const QString& dir);
    // The one-line reason Start (or Resume) cannot run, empty when it can; `lr` gets the learning
    // rate. Cheap checks only (a few stat calls); everything else is the core's to say.
    QString check(bool resume, double& lr) const;
    qcw::TrainJob job(bool resume) const;  // the fields as a job (no data yet)
    ClusterBox* cluster() const { return cluster_; }

    // The student's name in the placeholder, and the default output folder "<student>-tuned"
    // (the first free "-N") until the user picks one.
    void updateDefaults();
    void setControlsEnabled(bool busy, bool stopping, bool canResume, bool canOpenResult);

signals:
    void startClicked();
    void stopClicked();
    void resumeClicked();
    void openResultClicked();
    void fieldsChanged();  // the output folder (Resume may change) or the student changed

private:
    QLineEdit* pathRow(QFormLayout* form, const QString& label, const char* name, const QString& placeholder,
                       bool folderMustExist);

    ModelSession* session_;
    QLineEdit* student_ = nullptr;
    QLineEdit* teacher_ = nullptr;
    QLineEdit* data_ = nullptr;
    QLineEdit* out_ = nullptr;
    QSpinBox* steps_ = nullptr;
    QSpinBox* batch_ = nullptr;
    QLineEdit* lr_ = nullptr;
    QSpinBox* warmup_ = nullptr;
    QSpinBox* loraRank_ = nullptr;
    QComboBox* device_ = nullptr;
    QSpinBox* evalEvery_ = nullptr;
    QSpinBox* saveEvery_ = nullptr;
    ClusterBox* cluster_ = nullptr;
    QPushButton* startButton_ = nullptr;
    QPushButton* stopButton_ = nullptr;
    QPushButton* resumeButton_ = nullptr;
    QPushButton* openResult_ = nullptr;
    bool outEdited_ = false;
};

// A folder holding OUT/checkpoints/step-*.
bool hasTrainingCheckpoint(const QString& out);

}  // namespace qcw::ui
