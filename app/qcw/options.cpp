#include "app/qcw/options.h"

#include "ui/panes.h"
#include "ui/pareto_report.h"
#include "ui/plugins.h"
#include "ui/report_plots.h"
#include "ui/theme.h"

#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QSettings>

#include <cstdio>
#include <cstring>

namespace qcw::app {

namespace {

using Kind = Option::Kind;

// --list-plugins: one line per plugin (id, name, version, file; tab-separated), broken ones on stderr.
int listPlugins(const QCommandLineParser&) {
    int broken = 0;
    for (const auto& p : qcw::ui::installedPlugins()) {
        if (!p.plugin) {
            printError(p.error);
            ++broken;
            continue;
        }
        const QByteArray line = QStringLiteral("%1\t%2\t%3\t%4\n").arg(p.id, p.name, p.version, p.file).toUtf8();
        std::fwrite(line.constData(), 1, static_cast<std::size_t>(line.size()), stdout);
    }
    return broken ? 1 : 0;
}

// --report-plots DIR: read, draw at a fixed size, write beside pareto.json (which stays as it is).
int reportPlots(const QCommandLineParser& parser) {
    const QString dir = parser.value(QStringLiteral("report-plots"));
    qcw::ui::ParetoReport report;
    QString error;
    if (!qcw::ui::loadParetoReport(dir, report, error)) {
        printError(error);
        return 1;
    }
    qcw::ui::applyTheme(qcw::ui::Theme::Light);
    QStringList written;
    if (!qcw::ui::writeReportOutputs(qcw::ui::renderReportOutputs(report), dir, error, &written)) {
        printError(error);
        return 1;
    }
    for (const QString& path : written) std::printf("%s\n", qPrintable(QDir::toNativeSeparators(path)));
    return 0;
}

// A Check handler: the option's value is an integer >= min.
std::function<int(const QCommandLineParser&)> integerAtLeast(const char* name, int min) {
    return [name, min](const QCommandLineParser& parser) {
        const QString value = parser.value(QString::fromLatin1(name));
        bool ok = false;
        const int v = value.toInt(&ok);
        if (ok && v >= min) return 0;
        printError(QStringLiteral("--%1 %2: expected an integer >= %3").arg(QString::fromLatin1(name), value).arg(min));
        return 2;
    };
}

int checkTheme(const QCommandLineParser& parser) {
    const QString name = parser.value(QStringLiteral("theme"));
    const auto theme = qcw::ui::themeFromString(name, qcw::ui::Theme::System);
    if (qcw::ui::themeToString(theme) == name.trimmed().toLower()) return 0;
    printError(QStringLiteral("unknown theme '%1' (system, light, dark)").arg(name));
    return 2;
}

// "Show pane <id> (model, compression, ...)." from the registry.
QByteArray paneHelp() {
    QStringList ids;
    for (const auto& p : qcw::ui::registeredPanes()) ids << QString::fromLatin1(p.id);
    return QStringLiteral("Show pane <id> (%1).").arg(ids.join(QStringLiteral(", "))).toUtf8();
}

bool hasArg(int argc, char** argv, const char* name) {
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--") == 0) break;
        const std::size_t len = std::strlen(name);
        if (std::strncmp(argv[i], name, len) == 0 && (argv[i][len] == '\0' || argv[i][len] == '=')) return true;
    }
    return false;
}

// One row of the table.
Option row(const char* name, const char* valueName, const char* help, Kind kind = Kind::Pane, const char* pane = nullptr,
           std::function<int(const QCommandLineParser&)> handler = {}, bool needsNoDisplay = false, bool offscreen = false) {
    Option o;
    o.name = name;
    o.valueName = valueName;
    o.help = help;
    o.kind = kind;
    o.pane = pane;
    o.handler = std::move(handler);
    o.needsNoDisplay = needsNoDisplay;
    o.offscreen = offscreen;
    return o;
}

}  // namespace

const std::vector<Option>& options() {
    static const QByteArray paneText = paneHelp();
    static const std::vector<Option> table = {
        row("screenshot", "file",
            "Render the window offscreen with the model loaded, write it to <file> as PNG and exit.", Kind::Pane,
            nullptr, {}, false, true),
        row("pane", "id", paneText.constData(), Kind::Pane),
        row("chat-prompt", "text", "With --screenshot --pane chat: ask <text> before grabbing.", Kind::Pane, "chat"),
        row("chat-compressed", "dir", "With --pane chat: the compressed model to compare with.", Kind::Pane, "chat"),
        row("chat-tuned", "dir", "With --pane chat: the compressed + fine-tuned model.", Kind::Pane, "chat"),
        row("chat-serve", nullptr,
            "With --screenshot --pane chat: switch Serve on (127.0.0.1, any free port), send it one chat completion, "
            "grab once it is logged.",
            Kind::Pane, "chat"),
        row("documents", "path", "Add <path> (a file or folder) to the documents pane; repeatable.", Kind::Pane,
            "documents"),
        row("documents-exclude", "glob",
            "Documents pane: skip files whose relative path or name matches <glob>; repeatable.", Kind::Pane,
            "documents"),
        row("documents-select", "rel",
            "With --screenshot --pane documents: preview the document <rel> (as listed) before grabbing.", Kind::Pane,
            "documents"),
        row("tune-data", "dir",
            "Fine-tuning pane: the dataset folder. With --screenshot --pane fine-tuning: train on it before grabbing.",
            Kind::Pane, "fine-tuning"),
        row("tune-steps", "n", "Fine-tuning pane: optimizer steps.", Kind::Check, "fine-tuning",
            integerAtLeast("tune-steps", 1)),
        row("tune-lora-rank", "r", "Fine-tuning pane: LoRA rank (0: all weights).", Kind::Check, "fine-tuning",
            integerAtLeast("tune-lora-rank", 0)),
        row("report", "dir", "Evaluation pane: the report folder to read (holding pareto.json).", Kind::Pane,
            "evaluation"),
        row("report-plots", "dir",
            "Draw <dir>/pareto.json offscreen into <dir>/quality_vs_params.png, <dir>/quality_vs_decode.png and "
            "<dir>/targets.md, then exit.",
            Kind::Exit, nullptr, reportPlots, false, true),
        row("theme", "name", "Colour theme for this run: system, light or dark.", Kind::Check, nullptr, checkTheme),
        row("list-plugins", nullptr, "Print one line per plugin found and exit.", Kind::Exit, nullptr, listPlugins, true),
        row("model-select", "name",
            "With --screenshot (model pane): show the spectrum of matrix <name> (default: the first MLP fc1 weight) "
            "before grabbing.",
            Kind::Pane, "model"),
        row("compare-layer", "name",
            "With --screenshot --pane compression: after compressing, show layer <name>'s spectrum before and after "
            "(e.g. model.layers.0.mlp.fc1) before grabbing.",
            Kind::Pane, "compression"),
    };
    return table;
}

bool needsDisplay(int argc, char** argv) {
    for (const char* name : {"--version", "-v", "--help", "-h", "--help-all"})
        if (hasArg(argc, argv, name)) return false;
    for (const Option& o : options())
        if (o.needsNoDisplay && hasArg(argc, argv, (QByteArray("--") + o.name).constData())) return false;
    return true;
}

bool wantsOffscreen(int argc, char** argv) {
    for (const Option& o : options())
        if (o.offscreen && hasArg(argc, argv, (QByteArray("--") + o.name).constData())) return true;
    return false;
}

void addOptions(QCommandLineParser& parser) {
    parser.setApplicationDescription(
        QStringLiteral("qcw: a workbench for compressing Phi language models with tensor networks"));
    parser.addHelpOption();
    parser.addVersionOption();
    for (const Option& o : options()) {
        const QString name = QString::fromLatin1(o.name), help = QString::fromUtf8(o.help);
        parser.addOption(o.valueName ? QCommandLineOption(name, help, QString::fromLatin1(o.valueName))
                                     : QCommandLineOption(name, help));
    }
    parser.addPositionalArgument(QStringLiteral("model_dir"),
                                 QStringLiteral("Model snapshot folder to open (config.json + *.safetensors)."),
                                 QStringLiteral("[MODEL_DIR]"));
}

std::optional<int> runExitOptions(const QCommandLineParser& parser) {
    for (bool noDisplay : {true, false})
        for (const Option& o : options())
            if (o.kind == Kind::Exit && o.needsNoDisplay == noDisplay && parser.isSet(QString::fromLatin1(o.name)))
                return o.handler(parser);
    return std::nullopt;
}

int checkOptions(const QCommandLineParser& parser) {
    for (const Option& o : options())
        if (o.kind == Kind::Check && parser.isSet(QString::fromLatin1(o.name)))
            if (const int status = o.handler(parser)) return status;
    return 0;
}

void applyThemeOption(const QCommandLineParser& parser, bool screenshot) {
    using qcw::ui::Theme;
    Theme theme = qcw::ui::themeFromString(QSettings().value(QStringLiteral("ui/theme")).toString());
    if (parser.isSet(QStringLiteral("theme"))) theme = qcw::ui::themeFromString(parser.value(QStringLiteral("theme")), theme);
    else if (screenshot) theme = Theme::Light;  // reproducible images
    qcw::ui::applyTheme(theme);
}

void printError(const QString& text) {
    std::fprintf(stderr, "qcw: %s\n", qPrintable(text));
    std::fflush(stderr);
}

// The source tree in a build, the data dir when installed.
QString defaultModelDir() {
    const QString candidates[] = {
        QStringLiteral(QCW_SOURCE_DIR "/resources/models/demo-phi"),
        QStringLiteral(QCW_SOURCE_DIR "/tests/data/tiny-phi"),
        QStringLiteral(QCW_INSTALL_DATADIR "/models/demo-phi"),
        QStringLiteral(QCW_INSTALL_DATADIR "/models/tiny-phi"),
    };
    for (const QString& dir : candidates)
        if (QFileInfo::exists(dir + QStringLiteral("/config.json"))) return dir;
    return {};
}

QString defaultResultsDir() {
    const QString candidates[] = {
        QStringLiteral(QCW_SOURCE_DIR "/benchmarks/results"),
        QStringLiteral(QCW_INSTALL_DATADIR "/results"),
    };
    for (const QString& dir : candidates)
        if (!qcw::ui::newestReportDir(dir).isEmpty()) return dir;
    return {};
}

}  // namespace qcw::app
