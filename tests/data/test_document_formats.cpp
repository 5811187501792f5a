// The document-format table (core/data/formats/): it lists every format, each format has a
// fixture in tests/data/formats/ (named <format id>.<extension>) that it detects and no other
// format claims, content sniffing finds the same format without the extension, and each
// format's own secret detectors redact the secret planted in its fixture.
#include "data/data.h"
#include "data/formats/format.h"

#include <QtTest>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace fs = std::filesystem;
using namespace qcw::formats;

namespace {

std::string fixturesDir() { return std::string(QCW_TEST_DATA) + "/formats"; }

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Fixture path -> the format id its name says (the part before the first dot).
std::map<std::string, std::string> fixtures() {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::directory_iterator(fixturesDir())) {
        if (!e.is_regular_file()) continue;
        const std::string name = e.path().filename().string();
        out[e.path().string()] = name.substr(0, name.find('.'));
    }
    return out;
}

// The format the reader starts from: a refinement (ARM) is reached through the format it refines.
std::string detectedAs(const DocumentFormat& f) { return f.refines() ? f.refines() : f.id(); }

}  // namespace

class TestDocumentFormats : public QObject {
    Q_OBJECT

private slots:
    void tableListsEveryFormat() {
        const std::vector<std::string> expected = {"pdf",       "html",      "json", "arm", "jsonl",    "fortigate",
                                                   "terraform", "yaml",      "csv",  "markdown", "text"};
        std::vector<std::string> ids;
        for (const DocumentFormat* f : documentFormats()) {
            ids.push_back(f->id());
            QVERIFY2(std::string(f->displayName()).size() > 2, f->id());
            QCOMPARE(formatById(f->id()), f);
            if (f->refines()) QVERIFY2(formatById(f->refines()) != nullptr, f->id());
        }
        QCOMPARE(ids, expected);
        QCOMPARE(formatById("no-such-format"), nullptr);
        // Plain text takes what no other format sniffs: it must stay last.
        QCOMPARE(std::string(documentFormats().back()->id()), std::string("text"));
    }

    void everyFormatHasAFixture() {
        std::set<std::string> withFixture;
        for (const auto& [path, id] : fixtures()) {
            QVERIFY2(formatById(id) != nullptr, ("fixture for a format not in the table: " + path).c_str());
            withFixture.insert(id);
        }
        for (const DocumentFormat* f : documentFormats())
            QVERIFY2(withFixture.count(f->id()),
                     (std::string("no fixture in tests/data/formats for ") + f->id()).c_str());
    }

    void eachFormatDetectsItsFixtureAndNoOtherClaimsIt() {
        for (const auto& [path, id] : fixtures()) {
            const std::string bytes = slurp(path);
            QVERIFY2(!bytes.empty(), path.c_str());
            const DetectInput in(path, bytes);
            const DocumentFormat& own = *formatById(id);
            bool sniffed = true;
            const DocumentFormat& picked = detectFormat(in, &sniffed);
            QVERIFY2(!sniffed, path.c_str());
            QCOMPARE(std::string(picked.id()), detectedAs(own));
            for (const DocumentFormat* f : documentFormats()) {
                const Claim c = f->detect(in);
                if (std::string(f->id()) == picked.id()) QVERIFY2(c >= Claim::Extension, path.c_str());
                else QVERIFY2(c == Claim::None, (std::string(f->id()) + " claims " + path).c_str());
            }
            // The reader ends at the fixture's format (ARM through JSON's structure step).
            const qcw::DocumentReport r = qcw::readDocument(path);
            QVERIFY2(!r.skipped(), (path + ": " + r.reason).c_str());
            QCOMPARE(r.type, id);
            QVERIFY2(!r.sections.empty() || !r.pairs.empty(), path.c_str());  // JSONL: pairs only
        }
    }

    void sniffingFindsTheSameFormatWithoutAnExtension() {
        int sniffedFormats = 0;
        for (const auto& [path, id] : fixtures()) {
            const std::string bytes = slurp(path);
            const DetectInput in("fixture", bytes);
            const DocumentFormat& own = *formatById(id);
            bool sniffed = false;
            const DocumentFormat& picked = detectFormat(in, &sniffed);
            if (own.sniff(in)) {
                ++sniffedFormats;
                QVERIFY2(sniffed, path.c_str());
                QCOMPARE(std::string(picked.id()), std::string(own.id()));
                // No format before it in the table sniffs it.
                for (const DocumentFormat* f : documentFormats()) {
                    if (f == &own) break;
                    QVERIFY2(!f->sniff(in), (std::string(f->id()) + " sniffs " + path).c_str());
                }
            } else if (own.detect(in) == Claim::Signature) {
                QVERIFY(!sniffed);
                QCOMPARE(std::string(picked.id()), std::string(own.id()));
            }
        }
        // html, json, fortigate, terraform, markdown, text.
        QCOMPARE(sniffedFormats, 6);
    }

    void formatDetectorsRedactTheirFixturesSecrets() {
        // Format id -> (detector name, redaction kind, the secret planted in its fixture).
        struct Planted {
            std::string fixture, detector, kind, secret;
        };
        const std::map<std::string, Planted> planted = {
            {"fortigate", {"fortigate.conf", "fortigate_set", "fortigate_psk", "Qm9ndXNGaXh0dXJlUHNrOTk4"}},
            {"arm", {"arm.json", "arm_parameter_default", "arm_secret_parameter", "Fixture-Arm-Pass-8830"}},
            {"terraform",
             {"terraform.tf", "terraform_variable_default", "terraform_secret_default", "Fixture-Tf-Pass-4417"}},
            {"markdown", {"markdown.md", "markdown_table_column", "password", "Fixture-Md-Pass-2291"}},
        };
        std::set<int> orders;
        int detectors = 0;
        for (const DocumentFormat* f : documentFormats()) {
            for (const SecretDetector& d : f->secretDetectors()) {
                ++detectors;
                QVERIFY2(orders.insert(d.order).second, d.name);  // one position each in the scrub order
                auto it = planted.find(f->id());
                QVERIFY2(it != planted.end(), (std::string("no planted secret for the detector ") + d.name).c_str());
                QCOMPARE(std::string(d.name), it->second.detector);
                // The detector alone finds the secret in the raw fixture ...
                const std::string raw = slurp(fixturesDir() + "/" + it->second.fixture);
                std::string low = raw;
                for (auto& c : low) c = char(std::tolower(static_cast<unsigned char>(c)));
                std::vector<SecretCandidate> found;
                d.find(raw, low, 3.5, found);
                bool covered = false;
                const std::size_t at = raw.find(it->second.secret);
                QVERIFY(at != std::string::npos);
                for (const auto& c : found)
                    if (c.b <= at && c.e >= at + it->second.secret.size() && c.kind == it->second.kind) covered = true;
                QVERIFY2(covered, d.name);
                // ... and the reader's scrubber (walking the table) redacts it with that kind.
                const qcw::DocumentReport r = qcw::readDocument(fixturesDir() + "/" + it->second.fixture);
                QVERIFY2(r.redactionCounts.count(it->second.kind), d.name);
                QVERIFY2(r.text.find(it->second.secret) == std::string::npos, d.name);
            }
        }
        QCOMPARE(detectors, int(planted.size()));
        QCOMPARE(int(formatSecretDetectors().size()), detectors);
    }
};

QTEST_GUILESS_MAIN(TestDocumentFormats)
#include "test_document_formats.moc"
