#include "ui/panes.h"

#include "ui/pane_chat.h"
#include "ui/pane_compression.h"
#include "ui/pane_documents.h"
#include "ui/pane_evaluation.h"
#include "ui/pane_finetune.h"
#include "ui/pane_model.h"

#include <QCoreApplication>

namespace qcw::ui {

namespace {
template <class P>
PaneInfo pane(const char* id, const char* title, const char* description, PaneScripts scripts = {}) {
    return {id, title, description,
            [](const PaneContext& context, QWidget* parent) -> Pane* { return new P(context, parent); },
            std::move(scripts)};
}
}  // namespace

const std::vector<PaneInfo>& registeredPanes() {
    static const std::vector<PaneInfo> panes = {
        pane<ModelPane>("model", QT_TRANSLATE_NOOP("qcw::ui::Panes", "Model"),
                        QT_TRANSLATE_NOOP("qcw::ui::Panes", "Open a model and inspect its layers"),
                        modelPaneScripts()),
        pane<CompressionPane>("compression", QT_TRANSLATE_NOOP("qcw::ui::Panes", "Compression"),
                              QT_TRANSLATE_NOOP("qcw::ui::Panes", "Search ranks and compress the open model"),
                              compressionPaneScripts()),
        pane<DocumentsPane>("documents", QT_TRANSLATE_NOOP("qcw::ui::Panes", "Documents"),
                            QT_TRANSLATE_NOOP("qcw::ui::Panes", "Read and scrub corporate documents into a training dataset"),
                            documentsPaneScripts()),
        pane<FineTunePane>("fine-tuning", QT_TRANSLATE_NOOP("qcw::ui::Panes", "Fine-tuning"),
                           QT_TRANSLATE_NOOP("qcw::ui::Panes", "Train or distil a model on a dataset, with live curves"),
                           fineTuningPaneScripts()),
        pane<EvaluationPane>("evaluation", QT_TRANSLATE_NOOP("qcw::ui::Panes", "Evaluation"),
                             QT_TRANSLATE_NOOP("qcw::ui::Panes", "Read a size/quality/speed report: the brief's targets, Pareto charts, every model measured"),
                             evaluationPaneScripts()),
        pane<ChatPane>("chat", QT_TRANSLATE_NOOP("qcw::ui::Panes", "Chat"),
                       QT_TRANSLATE_NOOP("qcw::ui::Panes", "Ask the original and a compressed model side by side"),
                       chatPaneScripts()),
    };
    return panes;
}

QString paneTitle(const PaneInfo& info) { return QCoreApplication::translate("qcw::ui::Panes", info.title); }
QString paneDescription(const PaneInfo& info) {
    return QCoreApplication::translate("qcw::ui::Panes", info.description);
}

}  // namespace qcw::ui
