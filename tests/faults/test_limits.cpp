// Resource limits, each refused with its reason instead of eating the machine: oversized
// files, a PDF whose page text inflates past the bound (a decompression bomb), documents
// with millions of lines or a problem on every line, deeply nested JSON, JSONL and HCL, a
// tokenizer.json with a vocabulary or ids beyond the bounds, checkpoint headers that promise
// terabytes or dimensions past 2^63.
#include "common/error.h"
#include "common/files.h"
#include "data/data.h"
#include "data/parsers.h"
#include "io/safetensors.h"
#include "test_support.h"
#include "tokenizer/tokenizer.h"

#include <QtTest>

#include <QElapsedTimer>

#include <fstream>

using qcw::test::errorOf;

namespace {

std::string safetensorsWithHeader(const std::string& json) {
    std::string h = json;
    while (h.size() % 8) h += ' ';
    std::string f(8, '\0');
    for (int i = 0; i < 8; ++i) f[std::size_t(i)] = char((h.size() >> (8 * i)) & 0xff);
    return f + h;
}

// A one-page PDF whose content stream is FlateDecode-compressed `content`.
std::string deflatedPdf(const QByteArray& content) {
    QByteArray z = qCompress(content, 9).mid(4);  // qCompress: 4-byte length, then a zlib stream
    std::vector<std::string> objs = {
        "<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
        "<< /Length " + std::to_string(z.size()) + " /Filter /FlateDecode >>\nstream\n" + z.toStdString() + "\nendstream"};
    return qcw::test::pdfFromObjects(objs);
}

}  // namespace

class TestLimits : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    std::string path(const char* name) const { return tmp_.path().toStdString() + "/" + name; }

private slots:
    void oversizedFile() {
        const std::string p = path("big.txt");
        std::ofstream(p) << std::string(3 << 20, 'a');
        auto r = qcw::readDocument(p, qcw::DataOptions().setMaxFileBytes(1 << 20));
        QVERIFY(r.skipped());
        QVERIFY2(r.reason.find("over the 1048576-byte limit") != std::string::npos, r.reason.c_str());
        QString err = errorOf([&] { qcw::readTextFile(p, 1 << 20); });
        QVERIFY2(err.contains(QString::fromStdString(p)) && err.contains("more than the limit"), qPrintable(err));
    }

    void pdfDecompressionBomb() {
        // A page full of 1-point text (poppler keeps about 50 KB of it) from a
        // stream that deflates to a few kilobytes, read with the bound lowered to 32 KiB
        // (the default bound, 16 MiB and up, works the same but takes poppler seconds).
        QByteArray content = "BT /F1 1 Tf 1 TL 1 780 Td ";
        const QByteArray line = "(" + QByteArray(800, 'A') + ") Tj T* ";
        for (int i = 0; i < 700; ++i) content += line;
        content += "ET";
        const std::string bomb = deflatedPdf(content);
        QVERIFY(bomb.size() < 16 * 1024);
        QElapsedTimer t;
        t.start();
        auto all = qcw::readDocumentBytes("bomb.pdf", bomb);
        qInfo("unbounded (default rule): %zu bytes of text from a %zu-byte PDF", all.text.size(), bomb.size());
        QVERIFY(all.text.size() > 32 * 1024);
        auto r = qcw::readDocumentBytes("bomb.pdf", bomb, qcw::DataOptions().setMaxPdfTextBytes(32 * 1024));
        qInfo("%zu-byte PDF: %s in %lld ms", bomb.size(), r.reason.c_str(), (long long)t.elapsed());
        QVERIFY(r.skipped());
        QVERIFY2(r.reason.find("decompression bomb") != std::string::npos, r.reason.c_str());
        // A PDF within the bound still reads.
        auto ok = qcw::readDocumentBytes("fine.pdf", deflatedPdf("BT /F1 12 Tf 72 720 Td (The probe port is 8008) Tj ET"));
        QVERIFY2(!ok.skipped() && ok.text.find("8008") != std::string::npos, ok.reason.c_str());
    }

    void millionsOfLines() {
        std::string text;
        for (int i = 0; i < 2000000; ++i) text += "event " + std::to_string(i) + "\n";
        QElapsedTimer t;
        t.start();
        auto r = qcw::readDocumentBytes("events.log", text);
        qInfo("2,000,000 lines (%zu bytes) read in %lld ms", text.size(), (long long)t.elapsed());
        QVERIFY(!r.skipped());
        QCOMPARE(r.text.size(), text.size());
        // A problem on every line: the warnings are capped, with the count of the rest.
        std::string conf;
        for (int i = 0; i < 100000; ++i) conf += "config a\n";
        auto c = qcw::readDocumentBytes("fgt.conf", conf);
        QVERIFY(c.warnings.size() <= 51);
        QVERIFY2(c.warnings.back().find("more warning(s)") != std::string::npos, c.warnings.back().c_str());
    }

    void deepNesting() {
        auto j = qcw::readDocumentBytes("deep.json", std::string(500000, '[') + std::string(500000, ']'));
        QVERIFY(j.skipped());
        QVERIFY2(j.reason.find("nested deeper than 256") != std::string::npos, j.reason.c_str());
        auto l = qcw::readDocumentBytes("deep.jsonl", std::string(500000, '{') + "\n{\"a\": \"ok line\"}\n");
        QVERIFY2(!l.warnings.empty() && l.warnings[0].find("nested deeper than 256") != std::string::npos, l.reason.c_str());
        std::string hcl;
        for (int i = 0; i < 100000; ++i) hcl += "a {\n";
        auto h = qcw::readDocumentBytes("deep.tf", hcl);
        QVERIFY(!h.warnings.empty());
        QVERIFY2(h.warnings[0].find("nested deeper than 64") != std::string::npos, h.warnings[0].c_str());
    }

    void tokenizerBounds() {
        const std::string pre = R"("pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false},"decoder":{"type":"ByteLevel"})";
        QString err = errorOf([&] {
            qcw::Tokenizer::fromTokenizerJson("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":2000000000},\"merges\":[]}," + pre + "}", "t.json");
        });
        QVERIFY2(err.contains("t.json") && err.contains("outside 0..50000000"), qPrintable(err));
        // 4M+1 entries: refused by count, after parsing only.
        std::string big = "{\"model\":{\"type\":\"BPE\",\"vocab\":{";
        big.reserve(60u << 20);
        const int n = (4 << 20) + 1;
        for (int i = 0; i < n; ++i) {
            if (i) big += ',';
            big += "\"" + std::to_string(i) + "\":0";
        }
        big += "},\"merges\":[]}," + pre + "}";
        err = errorOf([&] { qcw::Tokenizer::fromTokenizerJson(big, "huge.json"); });
        QVERIFY2(err.contains("huge.json") && err.contains("more than the limit of 4194304"), qPrintable(err));
    }

    // Two findings of the fuzz campaign, fixed in the parsers (their inputs are in
    // tests/fuzz/corpus/doc_*/regress-*): a vertical tab or form feed inside a FortiGate line
    // made the tokenizer loop without advancing until memory ran out; a backslash as the last
    // byte of an HCL string put a block's end past the text.
    void fuzzFindings() {
        auto cfg = qcw::parseFortiGateConfig("config system global\n    set a\vb\f c\r\nend\n");
        QCOMPARE(cfg.root.children.size(), std::size_t(1));
        QCOMPARE(cfg.root.children[0].value("a"), std::string("b c"));
        const std::string hcl = "resource \"a\" \"b\" {\n  x = \"abc\\";
        auto f = qcw::parseHcl(hcl);
        for (const auto& b : f.blocks) QVERIFY(b.end <= hcl.size());
        auto r = qcw::readDocumentBytes("main.tf", hcl);
        for (const auto& p : r.pairs) QVERIFY(p.end <= r.text.size());
        // A quoted block name spanning lines left unterminated: the reason stays one line.
        auto u = qcw::readDocumentBytes("fgt.conf", "config system global\n    set a b\nend\nconfig \"two\nlines\"\n    set c d\n");
        QVERIFY2(u.reason.find('\n') == std::string::npos, u.reason.c_str());
        for (const auto& w : u.warnings) QVERIFY2(w.find('\n') == std::string::npos, w.c_str());
    }

    void checkpointHeaders() {
        const std::string tb = path("terabytes.safetensors");
        std::ofstream(tb, std::ios::binary) << safetensorsWithHeader(
            R"({"w":{"dtype":"F32","shape":[1000000,1000000,1000],"data_offsets":[0,4000000000000000]}})");
        QString err = errorOf([&] { qcw::SafetensorsFile::open(tb); });
        QVERIFY2(err.contains(QString::fromStdString(tb)) && err.contains("beyond the 0-byte data section"), qPrintable(err));
        const std::string dim = path("dim.safetensors");
        std::ofstream(dim, std::ios::binary) << safetensorsWithHeader(
            R"({"w":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}})");
        err = errorOf([&] { qcw::SafetensorsFile::open(dim); });
        QVERIFY2(err.contains(QString::fromStdString(dim)) && err.contains("beyond any real tensor"), qPrintable(err));
        const std::string hdr = path("header.safetensors");
        std::string f(8, '\0');
        f[5] = 1;  // a header length of 2^40 bytes
        std::ofstream(hdr, std::ios::binary) << f << "{}";
        err = errorOf([&] { qcw::SafetensorsFile::open(hdr); });
        QVERIFY2(err.contains(QString::fromStdString(hdr)) && err.contains("exceeds the 100 MiB limit"), qPrintable(err));
    }
};

QTEST_GUILESS_MAIN(TestLimits)
#include "test_limits.moc"
