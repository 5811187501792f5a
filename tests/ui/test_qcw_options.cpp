// qcw's command-line table (app/qcw/options.cpp) against the pane registry (ui/panes.cpp):
// every option is declared once and reaches the parser with its help; a pane option names a
// registered pane that has scripts to read it; the checks refuse bad values with exit status 2;
// the display and offscreen decisions read argv as main() does.
#include "app/qcw/options.h"
#include "ui/panes.h"

#include <QCommandLineParser>
#include <QSet>
#include <QtTest>

#include <vector>

using qcw::app::Option;

namespace {

// Parses `args` (after the program name) with the table's options.
bool parse(QCommandLineParser& parser, const QStringList& args) {
    qcw::app::addOptions(parser);
    return parser.parse(QStringList{QStringLiteral("qcw")} + args);
}

// argv for needsDisplay / wantsOffscreen.
struct Argv {
    explicit Argv(std::vector<std::string> a) : args(std::move(a)) {
        for (auto& s : args) ptrs.push_back(s.data());
    }
    int argc() const { return static_cast<int>(ptrs.size()); }
    char** argv() { return ptrs.data(); }
    std::vector<std::string> args;
    std::vector<char*> ptrs;
};

}  // namespace

class TestQcwOptions : public QObject {
    Q_OBJECT
private slots:
    void tableMatchesTheRegistry() {
        QSet<QString> paneIds;
        for (const auto& p : qcw::ui::registeredPanes()) paneIds.insert(QString::fromLatin1(p.id));
        QSet<QString> names;
        for (const Option& o : qcw::app::options()) {
            const QString name = QString::fromLatin1(o.name);
            QVERIFY2(!names.contains(name), qPrintable(name + " declared twice"));
            names.insert(name);
            QVERIFY2(o.help && *o.help, qPrintable(name));
            if (o.kind == Option::Kind::Pane) {
                QVERIFY2(!o.handler, qPrintable(name));
                if (!o.pane) continue;  // read by the window (--screenshot, --pane)
                QVERIFY2(paneIds.contains(QString::fromLatin1(o.pane)), qPrintable(name + " names no registered pane"));
                const auto& panes = qcw::ui::registeredPanes();
                const auto it = std::find_if(panes.begin(), panes.end(), [&](const auto& p) {
                    return QString::fromLatin1(p.id) == QString::fromLatin1(o.pane);
                });
                QVERIFY2(it->scripts.configure || it->scripts.screenshot,
                         qPrintable(name + ": its pane has no scripts to read it"));
            } else {
                QVERIFY2(o.handler, qPrintable(name + " has no handler"));
            }
        }
        for (const char* n : {"screenshot", "pane", "report-plots", "list-plugins", "theme", "model-select",
                              "compare-layer", "documents", "tune-data", "chat-serve"})
            QVERIFY2(names.contains(QString::fromLatin1(n)), n);
    }

    void helpListsEveryOptionAndPane() {
        QCommandLineParser parser;
        QVERIFY(parse(parser, {}));
        const QString help = parser.helpText().simplified();  // as one line: the help wraps
        for (const Option& o : qcw::app::options()) {
            QVERIFY2(help.contains(QStringLiteral("--") + QString::fromLatin1(o.name)), o.name);
            QVERIFY2(help.contains(QString::fromUtf8(o.help).left(30)), o.name);
        }
        QStringList ids;
        for (const auto& p : qcw::ui::registeredPanes()) ids << QString::fromLatin1(p.id);
        QVERIFY(help.contains(QStringLiteral("Show pane <id> (%1).").arg(ids.join(QStringLiteral(", ")))));
        QVERIFY(help.contains(QStringLiteral("[MODEL_DIR]")));
    }

    void checksRefuseBadValues_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("status");
        QTest::newRow("nothing") << QStringList{} << 0;
        QTest::newRow("steps ok") << QStringList{"--tune-steps", "3"} << 0;
        QTest::newRow("steps zero") << QStringList{"--tune-steps", "0"} << 2;
        QTest::newRow("steps text") << QStringList{"--tune-steps", "x"} << 2;
        QTest::newRow("lora zero") << QStringList{"--tune-lora-rank", "0"} << 0;
        QTest::newRow("lora negative") << QStringList{"--tune-lora-rank", "-1"} << 2;
        QTest::newRow("theme dark") << QStringList{"--theme", "Dark"} << 0;
        QTest::newRow("theme unknown") << QStringList{"--theme", "purple"} << 2;
        QTest::newRow("a pane option") << QStringList{"--documents", "x", "--documents", "y"} << 0;
    }
    void checksRefuseBadValues() {
        QFETCH(QStringList, args);
        QFETCH(int, status);
        QCommandLineParser parser;
        QVERIFY2(parse(parser, args), qPrintable(parser.errorText()));
        QCOMPARE(qcw::app::checkOptions(parser), status);
        QVERIFY(!qcw::app::runExitOptions(parser).has_value());  // no print-and-exit option given
    }

    void displayAndOffscreenFromArgv() {
        Argv plain({"qcw", "/some/model"});
        QVERIFY(qcw::app::needsDisplay(plain.argc(), plain.argv()));
        QVERIFY(!qcw::app::wantsOffscreen(plain.argc(), plain.argv()));
        Argv list({"qcw", "--list-plugins"});
        QVERIFY(!qcw::app::needsDisplay(list.argc(), list.argv()));
        Argv version({"qcw", "-v"});
        QVERIFY(!qcw::app::needsDisplay(version.argc(), version.argv()));
        Argv shot({"qcw", "--screenshot=a.png", "--pane", "model"});
        QVERIFY(qcw::app::needsDisplay(shot.argc(), shot.argv()));
        QVERIFY(qcw::app::wantsOffscreen(shot.argc(), shot.argv()));
        Argv plots({"qcw", "--report-plots", "dir"});
        QVERIFY(qcw::app::wantsOffscreen(plots.argc(), plots.argv()));
        Argv prefix({"qcw", "--screenshots", "x"});  // another word, not the option
        QVERIFY(!qcw::app::wantsOffscreen(prefix.argc(), prefix.argv()));
        Argv afterDashes({"qcw", "--", "--screenshot"});  // a positional argument
        QVERIFY(!qcw::app::wantsOffscreen(afterDashes.argc(), afterDashes.argv()));
    }
};

QTEST_MAIN(TestQcwOptions)
#include "test_qcw_options.moc"
