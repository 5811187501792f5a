// The documents pane, offscreen, on a small folder written here: a FortiGate config with a
// planted pre-shared key, two identical notes (one is a duplicate), a binary and an empty file.
// Dropping the folder fills the list (read / skipped with the reason), the preview highlights
// every redaction with the rule in a tooltip and never shows the secret, the statistics and the
// secrets report equal what the core's own buildDataset says, "Build dataset" writes the folder
// atomically and leaves the documents untouched, Cancel stops a slow reading within a second,
// bad input is one line, and `qcw --screenshot --pane documents` renders a populated pane.
#include "data/data.h"
#include "ui/format.h"
#include "ui/main_window.h"
#include "ui/model_session.h"
#include "ui/pane_documents.h"

#include "common/error.h"

#include <QCryptographicHash>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QMimeData>
#include <QProcess>
#include <QPushButton>
#include <QCheckBox>
#include <QSpinBox>
#include <QDoubleSpinBox>
#include <QDirIterator>
#include <QSettings>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTextBlock>
#include <QTextBrowser>
#include <QThread>
#include <QTreeWidget>
#include <QUrl>
#include <QtTest>

#include <atomic>
#include <memory>

#include "ui_test_support.h"

using qcw::test::child;
using qcw::test::quietOptions;
using qcw::test::shownWindow;
using qcw::ui::DocumentsPane;
using qcw::ui::MainWindow;

namespace {

const char* const kSecret = "Tr0ub4dor-PlantedPSK-7731";

void writeFile(const QString& path, const QByteArray& bytes) {
    QFile f(path);
    QVERIFY2(f.open(QIODevice::WriteOnly), qPrintable(path));
    f.write(bytes);
}

// The documents folder every test reads.
void writeCorpus(const QString& dir) {
    writeFile(dir + "/fgt-branch.conf", QByteArray("config system global\n"
                                                   "    set hostname \"fgt-branch\"\n"
                                                   "end\n"
                                                   "config vpn ipsec phase1-interface\n"
                                                   "    edit \"to-hub\"\n"
                                                   "        set interface \"port1\"\n"
                                                   "        set psksecret \"") +
                                            kSecret +
                                            "\"\n"
                                            "        set remote-gw 203.0.113.10\n"
                                            "    next\n"
                                            "end\n");
    const QByteArray notes = "# Failover notes\n\nThe hub pair fails over in under a minute when port2 loses link.\n"
                             "Check the HA heartbeat on port3 first, then the SDN connector.\n";
    writeFile(dir + "/notes.md", notes);
    QDir().mkpath(dir + "/copies");
    writeFile(dir + "/copies/notes-copy.md", notes);
    writeFile(dir + "/blob.bin", QByteArray("\x7f" "ELF\x00\x00\x01\x02\x00\x00\x00\x00", 12).repeated(64));
    writeFile(dir + "/empty.txt", QByteArray());
}

QByteArray fingerprint(const QString& dir) {
    QCryptographicHash h(QCryptographicHash::Sha256);
    QDirIterator it(dir, QDir::Files | QDir::Hidden, QDirIterator::Subdirectories);
    QStringList files;
    while (it.hasNext()) files << it.next();
    files.sort();
    for (const QString& f : files) {
        QFile file(f);
        if (!file.open(QIODevice::ReadOnly)) return {};
        h.addData(f.toUtf8());
        h.addData(file.readAll());
        h.addData(QByteArray::number(QFileInfo(f).lastModified().toMSecsSinceEpoch()));
    }
    return h.result();
}

QTreeWidgetItem* row(QTreeWidget* list, const QString& name) {
    for (int i = 0; i < list->topLevelItemCount(); ++i)
        if (list->topLevelItem(i)->text(0) == name) return list->topLevelItem(i);
    return nullptr;
}

// The same options the pane uses by default (record length 512, overlap 64, no tokenizer).
qcw::DatasetBuildResult coreOracle(const QString& dir) {
    qcw::DataOptions o;
    o.setMaxTokens(512).setOverlap(64);
    return qcw::buildDataset({dir.toStdString()}, o);
}

struct Highlight {
    QString text, tooltip;
};

// Every fragment of the preview drawn with `color` as its background.
QList<Highlight> highlights(QTextDocument* doc, const QColor& color) {
    QList<Highlight> out;
    for (QTextBlock b = doc->begin(); b.isValid(); b = b.next())
        for (auto it = b.begin(); !it.atEnd(); ++it) {
            const QTextFragment f = it.fragment();
            if (f.charFormat().background().color() == color) out.push_back({f.text(), f.charFormat().toolTip()});
        }
    return out;
}

}  // namespace

class TestDocumentsPane : public QObject {
    Q_OBJECT

    QTemporaryDir tmp_;
    QString docs_;

    std::unique_ptr<MainWindow> window() {
        auto w = shownWindow();
        w->showPane(QStringLiteral("documents"));
        return w;
    }
    static DocumentsPane* paneOf(const MainWindow& w) {
        return qobject_cast<DocumentsPane*>(w.pane(QStringLiteral("documents")));
    }
    // Adds the documents folder and waits for the reading to end.
    static bool readAll(DocumentsPane* pane, const QString& dir) {
        QSignalSpy done(pane, &DocumentsPane::readingFinished);
        pane->addPaths({dir});
        if (!done.wait(30000)) return false;
        return done.last().at(0).toBool();
    }

private slots:
    void initTestCase() {
        qcw::test::isolateSettings(QStringLiteral("test_documents_pane"));
        QVERIFY(tmp_.isValid());
        docs_ = QFileInfo(tmp_.filePath("docs")).absoluteFilePath();
        QVERIFY(QDir().mkpath(docs_));
        writeCorpus(docs_);
    }
    void init() { QSettings().clear(); }
    void cleanupTestCase() { QSettings().clear(); }

    void paneIsRegisteredBetweenCompressionAndChat() {
        MainWindow w(quietOptions());
        const QStringList ids = w.paneIds();
        QVERIFY(ids.indexOf("documents") == ids.indexOf("compression") + 1);
        QVERIFY(ids.indexOf("fine-tuning") == ids.indexOf("documents") + 1);
        QVERIFY(ids.indexOf("chat") > ids.indexOf("fine-tuning"));
        QVERIFY(paneOf(w));
        QCOMPARE(paneOf(w)->objectName(), QStringLiteral("pane-documents"));
    }

    void dropFillsTheList() {
        auto w = window();
        DocumentsPane* pane = paneOf(*w);
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(docs_)});
        const QPoint at = pane->rect().center();
        QDragEnterEvent enter(at, Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(pane, &enter);
        QVERIFY(enter.isAccepted());
        QSignalSpy done(pane, &DocumentsPane::readingFinished);
        QDropEvent drop(QPointF(at), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(pane, &drop);
        QVERIFY(drop.isAccepted());
        QVERIFY(done.wait(30000));
        QVERIFY2(done.last().at(0).toBool(), qPrintable(done.last().at(1).toString()));
        QCOMPARE(pane->inputs(), QStringList{docs_});
        QVERIFY(!w->session()->hasModel());  // the drop went to the pane, not to "open model"

        auto* list = child<QTreeWidget>(*w, "document-list");
        QVERIFY(list);
        QCOMPARE(list->topLevelItemCount(), 5);
        QTreeWidgetItem* conf = row(list, "fgt-branch.conf");
        QVERIFY(conf);
        QCOMPARE(conf->text(1), QStringLiteral("fortigate"));
        QCOMPARE(conf->text(3), QStringLiteral("read"));
        QCOMPARE(conf->text(5), QStringLiteral("1"));  // one secret
        QCOMPARE(conf->text(2), qcw::ui::formatBytes(double(QFileInfo(docs_ + "/fgt-branch.conf").size())));
        QTreeWidgetItem* copy = row(list, "copies/notes-copy.md");
        QVERIFY(copy);
        QCOMPARE(copy->text(1), QStringLiteral("markdown"));
        for (const char* name : {"blob.bin", "empty.txt"}) {
            QTreeWidgetItem* r = row(list, name);
            QVERIFY2(r, name);
            QVERIFY2(r->text(3).startsWith("skipped: ") && r->text(3).size() > 10, qPrintable(r->text(3)));
        }
        // The reasons are the core's.
        const auto oracle = coreOracle(docs_);
        for (const auto& s : oracle.skipped)
            QCOMPARE(row(list, QString::fromStdString(s.path))->text(3), "skipped: " + QString::fromStdString(s.reason));
        QVERIFY(!pane->isBusy());
        QVERIFY(child<QLabel>(*w, "documents-status")->text().startsWith("Read 3 of 5 documents"));

        // Dropping the same folder again adds nothing; a remote URL is refused.
        QMimeData remote;
        remote.setUrls({QUrl("https://example.org/docs")});
        QDragEnterEvent enter2(at, Qt::CopyAction, &remote, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(pane, &enter2);
        QVERIFY(!enter2.isAccepted());
        pane->addPaths({docs_});
        QCOMPARE(pane->inputs().size(), 1);
    }

    void previewHighlightsRedactions() {
        auto w = window();
        DocumentsPane* pane = paneOf(*w);
        QVERIFY(readAll(pane, docs_));
        QSignalSpy ready(pane, &DocumentsPane::previewReady);
        QVERIFY(pane->showDocument("fgt-branch.conf"));
        QVERIFY(ready.wait(10000));
        QCOMPARE(ready.last().at(0).toString(), QStringLiteral("fgt-branch.conf"));

        auto* preview = child<QTextBrowser>(*w, "document-preview");
        QVERIFY(preview);
        const QString text = preview->toPlainText();
        QVERIFY2(text.contains("set hostname \"fgt-branch\""), qPrintable(text));
        QVERIFY2(!text.contains(QString::fromLatin1(kSecret)), "the secret reached the preview");
        const auto marks = highlights(preview->document(), QColor(QLatin1String(DocumentsPane::kRedactionColor)));
        const qcw::DocumentReport doc = qcw::readDocument((docs_ + "/fgt-branch.conf").toStdString());
        QCOMPARE(marks.size(), static_cast<int>(doc.redactions.size()));
        QCOMPARE(marks.size(), 1);
        const QString kind = QString::fromStdString(doc.redactions[0].kind);
        QCOMPARE(marks[0].text, "[REDACTED:" + kind + "]");
        QVERIFY2(marks[0].tooltip.contains("rule: " + kind), qPrintable(marks[0].tooltip));
        QVERIFY(marks[0].tooltip.contains("pre-shared key"));
        QVERIFY(!marks[0].tooltip.contains(QString::fromLatin1(kSecret)));
        QVERIFY(child<QLabel>(*w, "preview-title")->text().contains("1 secrets redacted"));

        // A document without secrets has no highlight; a skipped one shows its reason, no text.
        QVERIFY(pane->showDocument("notes.md"));
        QVERIFY(ready.wait(10000));
        QVERIFY(highlights(preview->document(), QColor(QLatin1String(DocumentsPane::kRedactionColor))).isEmpty());
        QVERIFY(preview->toPlainText().contains("fails over in under a minute"));
        QVERIFY(pane->showDocument("blob.bin"));
        QTRY_VERIFY(preview->toPlainText().isEmpty());
        QVERIFY(child<QLabel>(*w, "preview-title")->text().contains("skipped"));

        // With IP anonymisation on, addresses get the second colour and their own tooltip.
        child<QCheckBox>(*w, "anonymize-ips")->setChecked(true);
        QSignalSpy done(pane, &DocumentsPane::readingFinished);
        QVERIFY(done.wait(10000));  // the options changed: everything is read again
        QVERIFY(pane->showDocument("fgt-branch.conf"));
        QVERIFY(ready.wait(10000));
        const auto anon = highlights(preview->document(), QColor(QLatin1String(DocumentsPane::kAnonymizedColor)));
        QCOMPARE(anon.size(), 1);
        QCOMPARE(anon[0].text, QStringLiteral("[IP_1]"));
        QVERIFY(anon[0].tooltip.contains("rule: ip"));
        QVERIFY(!preview->toPlainText().contains("203.0.113.10"));
    }

    void statisticsAndSecretsMatchTheCore() {
        auto w = window();
        DocumentsPane* pane = paneOf(*w);
        QVERIFY(readAll(pane, docs_));
        const auto r = coreOracle(docs_);
        QVERIFY(r.exactDuplicates >= 1);  // the copy of the notes
        const auto text = [&](const char* name) { return child<QLabel>(*w, name)->text(); };
        QCOMPARE(text("stats-documents"), QStringLiteral("3 read of 5 (2 skipped)"));
        QVERIFY2(text("stats-records").startsWith(qcw::ui::formatCount(std::int64_t(r.records.size())) + " ("),
                 qPrintable(text("stats-records")));
        QVERIFY(text("stats-records").contains(QStringLiteral("%1 instruction pairs").arg(r.pairs)));
        QCOMPARE(text("stats-duplicates"), QStringLiteral("%1 (%2 exact, %3 near)")
                                               .arg(r.exactDuplicates + r.nearDuplicates)
                                               .arg(r.exactDuplicates)
                                               .arg(r.nearDuplicates));
        std::int64_t tokens = 0, chars = 0;
        for (const auto& rec : r.records) {
            tokens += rec.tokens;
            const std::string& t = rec.kind == "text" ? rec.text : rec.kind == "pair" ? rec.prompt + rec.completion : rec.messagesJson;
            chars += QString::fromStdString(t).toUcs4().size();
        }
        QCOMPARE(text("stats-tokens"), QString::fromUtf8("\u2248 %1 (bytes / 4)").arg(qcw::ui::formatCount(tokens)));
        QCOMPARE(text("stats-characters"), qcw::ui::formatCount(chars));

        auto* types = child<QTableWidget>(*w, "stats-types");
        QVERIFY(types);
        QMap<QString, QString> perType;
        for (int i = 0; i < types->rowCount(); ++i) perType[types->item(i, 0)->text()] = types->item(i, 1)->text();
        QCOMPARE(perType.value("fortigate"), QStringLiteral("1"));
        QCOMPARE(perType.value("markdown"), QStringLiteral("2"));
        QCOMPARE(perType.size(), 2);

        // The pre-flight report: per kind with the core's counts, the files under each kind.
        auto* secrets = child<QTreeWidget>(*w, "secrets-report");
        QVERIFY(secrets);
        QCOMPARE(secrets->topLevelItemCount(), static_cast<int>(r.redactions.size()));
        for (const auto& [kind, n] : r.redactions) {
            QTreeWidgetItem* k = nullptr;
            for (int i = 0; i < secrets->topLevelItemCount(); ++i)
                if (secrets->topLevelItem(i)->data(0, Qt::UserRole).toString() == QString::fromStdString(kind))
                    k = secrets->topLevelItem(i);
            QVERIFY2(k, kind.c_str());
            QCOMPARE(k->text(1), QString::number(n));
            QCOMPARE(k->childCount(), 1);
            QCOMPARE(k->child(0)->text(0), QStringLiteral("fgt-branch.conf"));
        }
        QVERIFY(child<QLabel>(*w, "secrets-total")->text().startsWith("1 secrets of 1 kinds in 1 files"));
    }

    void buildWritesTheDatasetAndLeavesTheDocumentsAlone() {
        auto w = window();
        DocumentsPane* pane = paneOf(*w);
        QVERIFY(readAll(pane, docs_));
        const QByteArray before = fingerprint(docs_);
        QVERIFY(!before.isEmpty());
        QSignalSpy written(pane, &DocumentsPane::datasetWritten);

        // A folder of the user's that is not a dataset is refused, and left as it was.
        const QString other = tmp_.filePath("mine");
        QDir().mkpath(other);
        writeFile(other + "/keep.txt", "mine");
        pane->buildDataset(other);
        QCOMPARE(written.count(), 1);
        QVERIFY(!written.last().at(0).toBool());
        const QString err = pane->lastError();
        QVERIFY2(err.contains(QDir::toNativeSeparators(other)) && err.contains("not empty") && !err.contains('\n'),
                 qPrintable(err));
        QCOMPARE(QDir(other).entryList(QDir::Files), QStringList{"keep.txt"});
        // Nor inside the documents folder (it would be read back as documents).
        pane->buildDataset(docs_ + "/out");
        QVERIFY(pane->lastError().contains("inside the documents folder"));
        QVERIFY(!QFileInfo::exists(docs_ + "/out"));

        const QString out = tmp_.filePath("dataset");
        pane->buildDataset(out);
        QTRY_COMPARE_WITH_TIMEOUT(written.count(), 3, 30000);
        QVERIFY2(written.last().at(0).toBool(), qPrintable(written.last().at(1).toString()));
        QVERIFY(pane->lastError().isEmpty());
        QFile manifest(out + "/manifest.json");
        QVERIFY(manifest.open(QIODevice::ReadOnly));
        const QJsonObject m = QJsonDocument::fromJson(manifest.readAll()).object();
        const auto r = coreOracle(docs_);
        QCOMPARE(m.value("records").toInt(), static_cast<int>(r.records.size()));
        QCOMPARE(m.value("files_read").toInt(), 3);
        QFile data(out + "/dataset.jsonl");
        QVERIFY(data.open(QIODevice::ReadOnly));
        const QByteArray jsonl = data.readAll();
        QCOMPARE(jsonl.count('\n'), static_cast<qsizetype>(r.records.size()));
        QVERIFY(!jsonl.contains(kSecret));
        QVERIFY(jsonl.contains("[REDACTED:"));
        // No temporary siblings left behind; the documents are byte for byte (and mtime) the same.
        QCOMPARE(QDir(tmp_.path()).entryList(QDir::Dirs | QDir::NoDotAndDotDot | QDir::Hidden),
                 (QStringList{"dataset", "docs", "mine"}));
        QCOMPARE(fingerprint(docs_), before);
        QCOMPARE(QSettings().value("panes/documents/lastDataset").toString(), QDir::toNativeSeparators(out));
        QCOMPARE(QSettings().value("panes/documents/lastOutputFolder").toString(), tmp_.path());

        // An earlier dataset is replaced by the new one.
        child<QSpinBox>(*w, "max-tokens")->setValue(64);
        pane->buildDataset(out);
        QTRY_COMPARE_WITH_TIMEOUT(written.count(), 4, 30000);
        QVERIFY(written.last().at(0).toBool());
        QFile manifest2(out + "/manifest.json");
        QVERIFY(manifest2.open(QIODevice::ReadOnly));
        QCOMPARE(QJsonDocument::fromJson(manifest2.readAll()).object().value("max_tokens").toInt(), 64);
    }

    void cancelStopsReadingWithinASecond() {
        auto w = window();
        DocumentsPane* pane = paneOf(*w);
        auto sawCancel = std::make_shared<std::atomic<bool>>(false);
        pane->setBuildFunction([sawCancel](const std::vector<std::string>&, const qcw::DataOptions&,
                                           qcw::RunContext& ctx) -> qcw::DatasetBuildResult {
            ctx.report("read", 1, 5, {}, "blob.bin: skipped");
            for (;;) {  // a very slow disk
                if (ctx.isCancelled()) {
                    sawCancel->store(true);
                    throw qcw::Cancelled();
                }
                QThread::msleep(5);
            }
        });
        QSignalSpy done(pane, &DocumentsPane::readingFinished);
        pane->addPaths({docs_});
        auto* list = child<QTreeWidget>(*w, "document-list");
        // Listed first: every file queued, the walk's skips already shown; the first one read.
        QTRY_COMPARE_WITH_TIMEOUT(list->topLevelItemCount(), 5, 10000);
        QTRY_COMPARE(row(list, "blob.bin")->text(3), QStringLiteral("skipped"));
        QCOMPARE(row(list, "fgt-branch.conf")->text(3), QStringLiteral("queued"));
        QVERIFY(pane->isBusy());
        QVERIFY(child<QPushButton>(*w, "cancel-documents")->isEnabled());
        QVERIFY(!child<QPushButton>(*w, "build-dataset")->isEnabled());
        QTest::mouseClick(child<QPushButton>(*w, "cancel-documents"), Qt::LeftButton);
        QVERIFY(!pane->isBusy());  // at once, without waiting for the worker
        QCOMPARE(done.count(), 1);
        QVERIFY(!done.last().at(0).toBool());
        QTRY_VERIFY_WITH_TIMEOUT(sawCancel->load(), 20000);  // the worker itself saw the cancel
        QCOMPARE(row(list, "fgt-branch.conf")->text(3), QStringLiteral("not read (cancelled)"));
        QCOMPARE(child<QLabel>(*w, "documents-status")->text(), QStringLiteral("Cancelled."));
    }

    void badInputIsOneLine() {
        auto w = window();
        DocumentsPane* pane = paneOf(*w);
        pane->addPaths({"/no/such/folder"});
        QVERIFY(pane->inputs().isEmpty());
        QCOMPARE(pane->lastError(), QStringLiteral("/no/such/folder: no such file or folder"));
        QVERIFY(child<QLabel>(*w, "documents-error")->isVisible());
        // A build function that fails: its one line, in the pane.
        pane->setBuildFunction([](const std::vector<std::string>& in, const qcw::DataOptions&,
                                  qcw::RunContext&) -> qcw::DatasetBuildResult {
            throw qcw::Error(in.front() + ": permission denied\nsecond line");
        });
        QVERIFY(!readAll(pane, docs_));
        QCOMPARE(pane->lastError(), docs_ + ": permission denied second line");
    }

    void settingsAreRemembered() {
        QSettings s;
        {
            auto w = window();
            child<QSpinBox>(*w, "max-tokens")->setValue(256);
            child<QDoubleSpinBox>(*w, "eval-fraction")->setValue(0.1);
            child<QCheckBox>(*w, "anonymize-emails")->setChecked(true);
            paneOf(*w)->setExcludePatterns({"*.log", "drafts/*"});
            s.beginGroup("documents-test");
            paneOf(*w)->saveSettings(s);
            s.endGroup();
        }
        auto w = window();
        s.beginGroup("documents-test");
        paneOf(*w)->restoreSettings(s);
        s.endGroup();
        QCOMPARE(child<QSpinBox>(*w, "max-tokens")->value(), 256);
        QCOMPARE(child<QDoubleSpinBox>(*w, "eval-fraction")->value(), 0.1);
        QVERIFY(child<QCheckBox>(*w, "anonymize-emails")->isChecked());
        QVERIFY(!child<QCheckBox>(*w, "anonymize-ips")->isChecked());
        QCOMPARE(paneOf(*w)->excludePatterns(), (QStringList{"*.log", "drafts/*"}));
    }

    void screenshotShowsAPopulatedPane() {
        const QString bin = QStringLiteral(QCW_BIN_DIR "/qcw");
        if (!QFileInfo::exists(bin)) QSKIP("qcw is not built");
        const QString png = tmp_.filePath("documents.png");
        QProcess p;
        p.start(bin, {"--screenshot", png, "--pane", "documents", "--documents", docs_, "--documents-select",
                      "fgt-branch.conf", qcw::test::tinyDir()});
        QVERIFY(p.waitForFinished(120000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        const QImage image(png);
        QVERIFY(!image.isNull());
        QCOMPARE(image.size(), QSize(1280, 820));
        // An unknown document to preview is one line on stderr; the picture is still taken.
        p.start(bin, {"--screenshot", png, "--pane", "documents", "--documents", docs_, "--documents-select", "nope.md",
                      qcw::test::tinyDir()});
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 0);
        QVERIFY(p.readAllStandardError().contains("no document 'nope.md'"));
    }
};

QTEST_MAIN(TestDocumentsPane)
#include "test_documents_pane.moc"
