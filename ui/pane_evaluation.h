#pragma once
// The evaluation pane: reads a report folder (DIR/pareto.json, written by
// benchmarks/demo_report_tables.py) and shows it: the machine and the quality definition, the
// brief's targets met or not by the product's models, quality kept against parameters kept
// and against decode speed-up with the Pareto fronts, and every point in a table. It runs no
// evaluation itself. "Export PNGs" writes what `qcw --report-plots DIR` writes. The file is
// read on a worker thread; it is never written.
#include "ui/pane.h"
#include "ui/pareto_report.h"

#include <QString>

#include <memory>

namespace qcw::ui {

class EvaluationPane : public Pane {
    Q_OBJECT
public:
    EvaluationPane(const PaneContext& context, QWidget* parent = nullptr);
    ~EvaluationPane() override;

    // Where the default report is looked for (the newest subfolder holding a pareto.json)
    // when none is remembered; the application passes its benchmarks/results folder.
    void setResultsDir(const QString& dir);
    QString resultsDir() const;
    QString defaultReportDir() const;  // remembered, else the newest under resultsDir()

    QString reportDir() const;  // of the report shown or being read
    bool hasReport() const;
    bool isBusy() const;
    const ParetoReport& report() const;
    const TargetsEvaluation& targets() const;
    QString lastError() const;  // one line; empty after a success

    void saveSettings(QSettings& settings) const override;
    void restoreSettings(QSettings& settings) override;

public slots:
    void openReport(const QString& dir);  // reads in the background, then reportLoaded
    void openReportDialog();              // "Open report…"; the choice is remembered
    void exportPngs();                    // into the report folder
    void exportTo(const QString& dir);

signals:
    void reportLoaded(bool ok, const QString& message);
    void exportFinished(bool ok, const QString& message);

protected:
    void showEvent(QShowEvent* event) override;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

}  // namespace qcw::ui
