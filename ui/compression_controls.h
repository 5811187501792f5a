#pragma once
// The compression pane's settings: how much to keep, the method (built-in methods, then the
// decomposition plugins with their settings widgets), the rank solver and its objective,
// calibration, per-layer rank overrides, the output folder, the job buttons and the job's
// progress, status and error lines. It turns what is set into the compression job's options
// (decompose/compress_job.h) with the job's defaults; it runs nothing itself.
#include "decompose/compress_job.h"

#include <QGroupBox>
#include <QString>

#include <cstdint>
#include <map>
#include <utility>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSettings;
class QSlider;
class QStackedWidget;
class QToolButton;

namespace qcw {
class DecompositionPlugin;
}

namespace qcw::ui {

class RankOverrideTable;

class CompressionControls : public QGroupBox {
    Q_OBJECT
public:
    explicit CompressionControls(QWidget* parent = nullptr);

    // The open model (empty dir: none): the kept-parameter target and the default output
    // folder follow it and the slider.
    void setModel(const QString& dir, std::int64_t params);

    QString methodId() const;
    QString solverId() const;     // empty: uniform ranks
    QString objectiveId() const;  // spectral or loss
    int keepPercent() const;
    // The chosen method takes searched ranks / per-layer ranks.
    bool searchable() const;
    bool overridable() const;
    // Whether a search would run (a searchable method and a solver).
    bool searching() const;

    // What is wrong with the settings for this job (empty: nothing), e.g. the measured-loss
    // objective without calibration.
    QString problem(bool withCompression) const;
    // "Calibrate on random tokens": this many windows of this many ids, drawn by the job's (the
    // CLI's) rule, mt19937_64(seed 0 + 17): `qcompress compress --calib-random 8 --calib-length 32`.
    // (32 windows of the CLI's default length 128 made the pane's measured-loss search 8x slower
    // on tiny-phi: 106 s against 13.6 s of CPU, `qcompress ranks --weighting loss`.)
    static constexpr int kRandomWindows = 8;
    static constexpr int kRandomLength = 32;
    // A calibration dataset gives this many windows of the CLI's default length (128), as
    // `--calib-data DIR --calib-windows 16`. (The CLI's default 32 windows doubled the cost of an
    // activation-aware compression of the demo model: over 120 s on the loaded development VM.)
    static constexpr int kDataWindows = 16;
    // The job the settings describe on `modelDir` (everything copied: the worker never touches
    // widgets). Calibration: a dataset folder, else with "Calibrate on random tokens" the random
    // windows above.
    qcw::CompressJobOptions jobOptions(const QString& modelDir, bool withCompression, bool replace) const;
    QString outputDir() const;  // cleaned, '/' separators

    // Enables what may change now.
    void updateEnabled(bool usable, bool busy, bool canOpenResult);

    void save(QSettings& s) const;
    void restore(QSettings& s);

    RankOverrideTable* overrides = nullptr;
    QPushButton* searchButton = nullptr;
    QPushButton* compressButton = nullptr;
    QPushButton* cancelButton = nullptr;
    QPushButton* openResult = nullptr;
    QProgressBar* progress = nullptr;
    QLabel* status = nullptr;
    QLabel* error = nullptr;

signals:
    void settingsChanged();  // method, solver or objective

private:
    void populateMethods();
    void updateTarget();
    void updateDefaultOutput();

    QString modelDir_;
    std::int64_t params_ = 0;
    bool outputEdited_ = false;  // the user typed or chose a folder: keep it
    QSlider* keep_ = nullptr;
    QLabel* keepLabel_ = nullptr;
    QComboBox* method_ = nullptr;
    QComboBox* solver_ = nullptr;
    QComboBox* objective_ = nullptr;
    QLabel* pluginTitle_ = nullptr;
    QStackedWidget* pluginSettings_ = nullptr;
    std::map<QString, std::pair<qcw::DecompositionPlugin*, QWidget*>> plugins_;  // "plugin:<id>" -> plugin, settings
    QCheckBox* calibrate_ = nullptr;
    QCheckBox* randomized_ = nullptr;
    QCheckBox* storeSource_ = nullptr;
    QLineEdit* calibData_ = nullptr;
    QToolButton* calibBrowse_ = nullptr;
    QLineEdit* output_ = nullptr;
    QToolButton* browse_ = nullptr;
};

}  // namespace qcw::ui
