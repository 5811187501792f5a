// Tests of the corporate data processor (core/data): readers, scrubber, parsers, dedup,
// chunking, dataset build and its failure cases.
#include "common/error.h"
#include "data/data.h"
#include "data/dedup.h"
#include "data/parsers.h"
#include "data/scrub.h"

#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void spit(const std::string& path, const std::string& bytes) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

std::string docsDir() { return std::string(QCW_TEST_DATA) + "/docs"; }

// A small but real PDF: one page per entry, each page one or more lines of text.
std::string makePdf(const std::vector<std::vector<std::string>>& pages) {
    std::vector<std::string> objs;
    int n = int(pages.size());
    objs.push_back("<< /Type /Catalog /Pages 2 0 R >>");
    std::string kids;
    for (int i = 0; i < n; ++i) kids += std::to_string(4 + 2 * i) + " 0 R ";
    objs.push_back("<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(n) + " >>");
    objs.push_back("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>");
    for (int i = 0; i < n; ++i) {
        objs.push_back("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents " + std::to_string(5 + 2 * i) +
                       " 0 R /Resources << /Font << /F1 3 0 R >> >> >>");
        std::string content = "BT /F1 12 Tf 72 720 Td ";
        for (const auto& line : pages[std::size_t(i)]) content += "(" + line + ") Tj 0 -18 Td ";
        content += "ET";
        objs.push_back("<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "\nendstream");
    }
    std::string pdf = "%PDF-1.4\n";
    std::vector<std::size_t> offsets;
    for (std::size_t i = 0; i < objs.size(); ++i) {
        offsets.push_back(pdf.size());
        pdf += std::to_string(i + 1) + " 0 obj\n" + objs[i] + "\nendobj\n";
    }
    std::size_t xref = pdf.size();
    pdf += "xref\n0 " + std::to_string(objs.size() + 1) + "\n0000000000 65535 f \n";
    for (auto off : offsets) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%010zu 00000 n \n", off);
        pdf += buf;
    }
    pdf += "trailer\n<< /Size " + std::to_string(objs.size() + 1) + " /Root 1 0 R >>\nstartxref\n" + std::to_string(xref) +
           "\n%%EOF\n";
    return pdf;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

std::string jsonEscaped(const std::string& s) {
    std::string d = json(s).dump();
    return d.substr(1, d.size() - 2);
}

// Every line of every output file, for "is this secret anywhere?" checks.
std::string allOutput(const std::string& dir) {
    std::string all;
    for (const char* f : {"dataset.jsonl", "eval.jsonl", "pairs.jsonl", "manifest.json"})
        if (fs::exists(fs::path(dir) / f)) all += slurp((fs::path(dir) / f).string());
    return all;
}

bool skippedWith(const qcw::DatasetBuildResult& r, const std::string& pathPart, const std::string& reasonPart) {
    for (const auto& s : r.skipped)
        if (contains(s.path, pathPart) && contains(s.reason, reasonPart)) return true;
    return false;
}

std::string describeSkipped(const qcw::DatasetBuildResult& r) {
    std::string d;
    for (const auto& s : r.skipped) d += s.path + ": " + s.reason + "; ";
    return d;
}

}  // namespace

class TestDataProcessor : public QObject {
    Q_OBJECT

private slots:
    // --- planted secrets -------------------------------------------------------------------
    void fixtureSecretsAbsentAndCounted();
    void corpusSecretsAbsentAndCounted();
    void scrubberKinds();
    void scrubberSpansAndPositions();
    void anonymizationIsConsistent();
    // --- failure cases -----------------------------------------------------------------------
    void corruptPdfSkipped();
    void realPdfRead();
    void invalidUtf8Handled();
    void emptyFileSkipped();
    void hugeFileSkippedQuickly();
    void deeplyNestedJsonRefused();
    void unterminatedConfigReported();
    void symlinkLoopReported();
    void binaryAndSpecialFilesSkipped();
    // --- readers and parsers ---------------------------------------------------------------------
    void fortiGateParser();
    void fortiGatePairs();
    void terraformParserAndPairs();
    void armTemplate();
    void htmlReader();
    void csvParser();
    void yamlFlatten();
    void markdownPairsAndUserPairs();
    // --- dataset -----------------------------------------------------------------------------
    void dedupExactAndNear();
    void chunkingRespectsTokens();
    void evalSplitDeterministic();
    void outputAtomicAndInputsUntouched();
    void cancellation();
    void cliEndToEnd();
};

// ----------------------------------------------------------------------- planted secrets --

void TestDataProcessor::fixtureSecretsAbsentAndCounted() {
    QTemporaryDir tmp;
    std::string out = tmp.filePath("out").toStdString();
    auto res = qcw::buildDataset({docsDir() + "/corpus"}, qcw::DataOptions().setEvalFraction(0.2));
    qcw::writeDataset(res, out);
    QVERIFY2(res.skipped.empty(), describeSkipped(res).c_str());
    std::string output = allOutput(out);
    std::map<std::string, int> expected;
    std::set<std::string> keyFiles;
    int n = 0;
    std::ifstream planted(docsDir() + "/PLANTED.jsonl");
    for (std::string line; std::getline(planted, line);) {
        if (line.empty()) continue;
        json p = json::parse(line);
        std::string secret = p["secret"], kind = p["kind"], file = p["file"];
        ++n;
        QVERIFY2(!contains(output, secret) && !contains(output, jsonEscaped(secret)),
                 (file + ": planted " + kind + " leaked: " + secret).c_str());
        if (kind == "private_key") {
            if (keyFiles.insert(file).second) ++expected[kind];
        } else {
            ++expected[kind];
        }
    }
    QVERIFY(n >= 40);
    json manifest = json::parse(slurp(out + "/manifest.json"));
    for (const auto& [kind, count] : expected) {
        int got = manifest["redactions"].value(kind, 0);
        QVERIFY2(got >= count, (kind + ": expected at least " + std::to_string(count) + " redactions, manifest has " +
                                std::to_string(got))
                                   .c_str());
    }
    QCOMPARE(manifest["tokenizer"].get<std::string>(), std::string("approx-bytes/4"));
    QVERIFY(manifest["files_read"].get<int>() == 9);
    QVERIFY(fs::exists(out + "/eval.jsonl"));
}

void TestDataProcessor::corpusSecretsAbsentAndCounted() {
    std::string corpus = std::string(QCW_SOURCE_DIR) + "/resources/corpus";
    std::string list = corpus + "/PLANTED_SECRETS.jsonl";
    if (!fs::exists(list)) QSKIP("resources/corpus/PLANTED_SECRETS.jsonl not present");
    QTemporaryDir tmp;
    std::string out = tmp.filePath("out").toStdString();
    auto res = qcw::buildDataset({corpus}, qcw::DataOptions().addExclude("PLANTED_SECRETS.jsonl"));
    qcw::writeDataset(res, out);
    std::string output = allOutput(out);
    std::map<std::string, int> perFile;
    std::ifstream planted(list);
    int n = 0;
    for (std::string line; std::getline(planted, line);) {
        if (line.empty()) continue;
        json p = json::parse(line);
        std::string secret = p.contains("searchable") && p["searchable"].is_string() ? p["searchable"].get<std::string>()
                                                                                      : p["secret"].get<std::string>();
        std::string file = p["file"];
        ++n;
        ++perFile[file];
        QVERIFY2(!contains(output, secret) && !contains(output, jsonEscaped(secret)),
                 (file + ": planted " + p["kind"].get<std::string>() + " leaked: " + secret).c_str());
        std::string full = p["secret"];
        QVERIFY2(!contains(output, full) && !contains(output, jsonEscaped(full)), (file + ": secret leaked").c_str());
    }
    QVERIFY(n > 0);
    // Counted: every file with planted secrets has at least that many redactions.
    std::map<std::string, int> got;
    for (const auto& f : res.files)
        for (const auto& [k, v] : f.redactions) got[f.path] += v;
    for (const auto& [file, count] : perFile)
        QVERIFY2(got[file] >= count, (file + ": " + std::to_string(count) + " planted, " + std::to_string(got[file]) +
                                      " redactions counted")
                                         .c_str());
    int total = 0;
    for (const auto& [k, v] : res.redactions) total += v;
    QVERIFY(total >= n);
    qInfo("corpus: %d files read, %zu records, %d redactions, %.2f MB/s", res.filesRead, res.records.size(), total,
          res.seconds > 0 ? double(res.bytesRead) / 1e6 / res.seconds : 0.0);
}

void TestDataProcessor::scrubberKinds() {
    struct Case {
        const char* text;
        const char* secret;
        const char* kind;
    };
    const Case cases[] = {
        {"config system admin\n edit admin\n  set password ENC SH2aGVsbG8gd29ybGQgZm9vIGJhcg==\n next\nend\n",
         "SH2aGVsbG8gd29ybGQgZm9vIGJhcg==", "fortigate_password"},
        {"    set psksecret ENC dGhpcyBpcyBub3QgYSByZWFsIHBzaw==\n", "dGhpcyBpcyBub3QgYSByZWFsIHBzaw==", "fortigate_psk"},
        {"    set psksecret \"Plain-Psk-Value-123\"\n", "Plain-Psk-Value-123", "fortigate_psk"},
        {"    set passwd S3cretLocal!\n", "S3cretLocal!", "fortigate_password"},
        {"    set client-secret abc8Q~xyzXYZ0123456789abcdefghijABCDEF_-\n", "abc8Q~xyzXYZ0123456789abcdefghijABCDEF_-",
         "fortigate_secret"},
        {"    set secret-key AKxx/yyZZ123456789\n", "AKxx/yyZZ123456789", "fortigate_key"},
        {"    set key \"ntp-key-Value-77\"\n", "ntp-key-Value-77", "fortigate_key"},
        {"secret: Zq18Q~aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789ab\n", "Zq18Q~aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789ab",
         "azure_client_secret"},
        {"The app secret value Zq18Q~aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789ab works.", "Zq18Q~aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789ab",
         "azure_client_secret"},
        {"key1 " "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODlBQkNERUY=" "\n",
         "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3ODlBQkNERUY=", nullptr},
        {"https://a.blob.core.windows.net/c?sv=2022-11-02&sp=r&sig=AbCdEf0123456789%2BxYz%3D&se=2025", "AbCdEf0123456789%2BxYz%3D",
         "sas_token"},
        {"DefaultEndpointsProtocol=https;AccountName=x;AccountKey=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==;EndpointSuffix=core.windows.net",
         "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==", "storage_account_key"},
        {"Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=c2hhcmVkYWNjZXNza2V5MTIz=",
         "c2hhcmVkYWNjZXNza2V5MTIz=", "shared_access_key"},
        {"Server=tcp:db;User ID=u;Password=Db-Pass99;Encrypt=true", "Db-Pass99", "connection_string_password"},
        {"Authorization: Bearer abcdefghijklmnopqrstuvwxyz0123456789", "abcdefghijklmnopqrstuvwxyz0123456789", "bearer_token"},
        {"token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2lnbmF0dXJl here",
         "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2lnbmF0dXJl", "jwt"},
        {"The admin password is Winter2024!Now, do not share it.", "Winter2024!Now", "password"},
        {"password: hunter2hunter2", "hunter2hunter2", "password"},
        {"webhook secret a3f9c2e81b7d4f60a3f9c2e81b7d4f60 (rotate)", "a3f9c2e81b7d4f60a3f9c2e81b7d4f60", nullptr},
        {"{\"adminPassword\": {\"type\": \"securestring\", \"defaultValue\": \"ArmPw-1234!\"}}", "ArmPw-1234!",
         "arm_secret_parameter"},
        {"variable \"vpn_psk\" {\n  default = \"TfPsk-98765\"\n}\n", "TfPsk-98765", "terraform_secret_default"},
        {"-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAtail1\nlastLineOfKeyXYZ\n-----END RSA PRIVATE KEY-----\n",
         "lastLineOfKeyXYZ", "private_key"},
        {"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\ntruncatedTailAAAA\n", "truncatedTailAAAA", "private_key"},
        {"Audit reference: CANARY-0123abcd-fgt.", "CANARY-0123abcd-fgt", "canary"},
        {"export GH=ghp_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_16C7e42F292c6912E7710c838347Ae178B4a", "api_token"},
        {"aws id AKIAIOSFODNN7EXAMPLE in the notes", "AKIAIOSFODNN7EXAMPLE", "api_token"},
        {"{\"storageAccountKey\": \"bm90LWEtcmVhbC1rZXktMTIzNDU2Nzg5\"}", "bm90LWEtcmVhbC1rZXktMTIzNDU2Nzg5", nullptr},
        {"$ADMIN_PASSWORD = 'Ps-Quoted-Secret-7'", "Ps-Quoted-Secret-7", "password"},
        {"PuTTY-User-Key-File-3: ssh-rsa\nPrivate-Lines: 2\nAAAAputtyPrivLine1\nAAAAputtyPrivLine2\nPrivate-MAC: abc\n",
         "AAAAputtyPrivLine2", "private_key"},
    };
    for (const auto& c : cases) {
        auto r = qcw::scrubText(c.text);
        QVERIFY2(!contains(r.text, c.secret), (std::string("left: ") + c.secret + " in " + r.text).c_str());
        QVERIFY2(!r.spans.empty(), c.text);
        if (c.kind) QVERIFY2(r.counts.count(c.kind), (std::string("kind ") + c.kind + " not counted for: " + c.text).c_str());
    }
    // No false alarms on ordinary prose and config.
    for (const char* clean : {"The password is required to log in.", "set password-policy enable\n",
                              "Store the secret in Key Vault.", "admin_password = var.admin_password\n",
                              "\"adminPassword\": \"[parameters('adminPassword')]\"",
                              "subscription 3f2b9c4e-1111-2222-3333-444455556666 key vault",
                              "set ssh-public-key1 \"ssh-ed25519 AAAAC3Nz\"\n"}) {
        auto r = qcw::scrubText(clean);
        QVERIFY2(r.spans.empty(), (std::string("false positive in: ") + clean + " -> " + r.text).c_str());
    }
}

void TestDataProcessor::scrubberSpansAndPositions() {
    std::string raw = "line one\n-----BEGIN PRIVATE KEY-----\nAAAA\nBBBB\n-----END PRIVATE KEY-----\nline six password: Xy9-abc!\nend\n";
    auto doc = qcw::readDocumentBytes("notes.txt", raw);
    QCOMPARE(doc.status, std::string("ok"));
    QCOMPARE(int(doc.redactions.size()), 2);
    for (const auto& s : doc.redactions) {
        std::string ph = doc.text.substr(s.offset, s.length);
        QCOMPARE(ph, "[REDACTED:" + s.kind + "]");
    }
    // "end" is on line 7 of the original even though the key collapsed into one line.
    std::size_t at = doc.text.find("end\n");
    auto pos = doc.position(at, at + 3);
    QCOMPARE(pos.lineStart, 7);
    QCOMPARE(pos.byteStart, std::uint64_t(raw.find("end\n", raw.find("Xy9"))));
}

void TestDataProcessor::anonymizationIsConsistent() {
    QTemporaryDir tmp;
    std::string in = tmp.filePath("in").toStdString();
    spit(in + "/a.txt", "FGT A is 10.0.1.4, mail ops@contoso.example. Peer 10.0.1.5.\n");
    spit(in + "/b.txt", "From 10.0.1.5 to 10.0.1.4, netmask 255.255.255.0, ask ops@contoso.example\n");
    auto res = qcw::buildDataset({in}, qcw::DataOptions().setAnonymizeIps(true).setAnonymizeEmails(true).setDedup(false));
    QCOMPARE(int(res.records.size()), 2);
    const std::string& a = res.records[0].text;
    const std::string& b = res.records[1].text;
    QVERIFY2(contains(a, "FGT A is [IP_1]") && contains(a, "Peer [IP_2]") && contains(a, "[EMAIL_1]"), a.c_str());
    QVERIFY2(contains(b, "From [IP_2] to [IP_1]") && contains(b, "255.255.255.0") && contains(b, "[EMAIL_1]"), b.c_str());
    QCOMPARE(res.anonymized["ip"], 4);
    QCOMPARE(res.anonymized["email"], 2);
    QVERIFY(res.redactions.empty());
}

// ------------------------------------------------------------------------- failure cases --

void TestDataProcessor::corruptPdfSkipped() {
    QTemporaryDir tmp;
    std::string in = tmp.filePath("in").toStdString();
    spit(in + "/broken.pdf", "%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\nthis is not a pdf body\n%%EO");
    spit(in + "/ok.txt", "Some ordinary text about FortiGate HA.\n");
    auto doc = qcw::readDocument(in + "/broken.pdf");
    QVERIFY(doc.skipped());
    QVERIFY2(contains(doc.reason, "PDF"), doc.reason.c_str());
    auto res = qcw::buildDataset({in}, {});
    QCOMPARE(res.filesRead, 1);
    QVERIFY2(skippedWith(res, "broken.pdf", "PDF"), describeSkipped(res).c_str());
}

void TestDataProcessor::realPdfRead() {
    QTemporaryDir tmp;
    std::string in = tmp.filePath("in").toStdString();
    spit(in + "/guide.pdf", makePdf({{"FortiGate HA on Azure", "The load balancer probe uses port 8008."},
                                     {"Break glass", "The admin password is PdfSecret-778899 today."}}));
    auto doc = qcw::readDocument(in + "/guide.pdf");
    QCOMPARE(doc.type, std::string("pdf"));
    QVERIFY2(!doc.skipped(), doc.reason.c_str());
    QVERIFY2(contains(doc.text, "probe uses port 8008"), doc.text.c_str());
    QVERIFY(!contains(doc.text, "PdfSecret-778899"));
    QVERIFY(contains(doc.text, "[REDACTED:password]"));
    QCOMPARE(int(doc.sections.size()), 2);
    QCOMPARE(doc.sections[1].page, 2);
    auto res = qcw::buildDataset({in}, {});
    QCOMPARE(res.filesRead, 1);
    bool page2 = false;
    for (const auto& r : res.records) page2 = page2 || (r.position.page == 2 && contains(r.text, "Break glass"));
    QVERIFY(page2);
}

void TestDataProcessor::invalidUtf8Handled() {
    QTemporaryDir tmp;
    std::string in = tmp.filePath("in").toStdString();
    spit(in + "/latin1.txt", std::string("Caf\xe9 notes \xff\xfe for the HA pair.\nThe password is L4tin-Pass!x\n"));
    auto doc = qcw::readDocument(in + "/latin1.txt");
    QVERIFY(!doc.skipped());
    QVERIFY(!doc.warnings.empty() && contains(doc.warnings[0], "UTF-8"));
    std::string copy = doc.text;
    QCOMPARE(qcw::repairUtf8(copy), std::size_t(0));
    QVERIFY(!contains(doc.text, "L4tin-Pass!x"));
    QString out = tmp.filePath("out");
    auto res = qcw::buildDataset({in}, {});
    qcw::writeDataset(res, out.toStdString());
    std::ifstream ds(out.toStdString() + "/dataset.jsonl");
    int lines = 0;
    for (std::string line; std::getline(ds, line); ++lines) QVERIFY(!json::parse(line, nullptr, false).is_discarded());
    QVERIFY(lines >= 1);
}

void TestDataProcessor::emptyFileSkipped() {
    QTemporaryDir tmp;
    std::string in = tmp.filePath("in").toStdString();
    spit(in + "/empty.md", "");
    spit(in + "/real.md", "# Title\n\nBody text that is long enough to be a section body here.\n");
    auto res = qcw::buildDataset({in}, {});
    QCOMPARE(res.filesRead, 1);
    QVERIFY2(skippedWith(res, "empty.md", "empty"), describeSkipped(res).c_str());
}

void TestDataProcessor::hugeFileSkippedQuickly() {
    QTemporaryDir tmp;
    std::string in = tmp.filePath("in").toStdString();
    fs::create_directories(in);
    std::string big = in + "/huge.log";
    {
        std::ofstream f(big);
    }
    QCOMPARE(::truncate(big.c_str(), 200ll << 20), 0);  // sparse: no disk used
    spit(in + "/small.txt", "small file\n");
    auto t0 = std::chrono::steady_clock::now();
    auto res = qcw::buildDataset({in}, {});
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    QVERIFY2(skippedWith(res, "huge.log", "limit"), describeSkipped(res).c_str());
    QCOMPARE(res.filesRead, 1);
    QVERIFY2(secs < 5.0, std::to_string(secs).c_str());
}

void TestDataProcessor::deeplyNestedJsonRefused() {
    QTemporaryDir tmp;
    std::string in = tmp.filePath("in").toStdString();
    spit(in + "/deep.json", std::string(100000, '[') + std::string(100000, ']'));
    std::string deepObj;
    for (int i = 0; i < 100000; ++i) deepObj += "{\"a\":";
    deepObj += "1" + std::string(100000, '}');
    spit(in + "/deep-object.json", deepObj);
    spit(in + "/fine.json", "{\"site\": \"weu\", \"units\": [\"a\", \"b\"]}");
    spit(in + "/pairs.jsonl", "{\"prompt\": \"q\", \"completion\": \"a\"}\n{\"messages\": " + std::string(100000, '[') +
                                  std::string(100000, ']') + "}\n");
    auto res = qcw::buildDataset({in}, {});
    QVERIFY2(skippedWith(res, "deep.json", "nested deeper"), describeSkipped(res).c_str());
    QVERIFY2(skippedWith(res, "deep-object.json", "nested deeper"), describeSkipped(res).c_str());
    QCOMPARE(res.filesRead, 2);  // fine.json and pairs.jsonl (its deep line dropped with a warning)
    QCOMPARE(res.pairs, 1);
    // The HCL and FortiGate parsers are bounded too.
    std::string deepHcl;
    for (int i = 0; i < 5000; ++i) deepHcl += "b {\n";
    auto hcl = qcw::parseHcl(deepHcl);
    QVERIFY(!hcl.problems.empty());
    std::string deepCfg;
    for (int i = 0; i < 5000; ++i) deepCfg += "config x\n";
    auto cfg = qcw::parseFortiGateConfig(deepCfg);
    QVERIFY(!cfg.problems.empty());
}

void TestDataProcessor::unterminatedConfigReported() {
    const std::string text =
        "config system interface\n"
        "    edit \"port1\"\n"
        "        set ip 10.0.1.4 255.255.255.0\n"
        "        set allowaccess ping https\n"
        "    next\n"
        "    edit \"port2\"\n"
        "        set ip 10.0.2.4 255.255.255.0\n";
    auto cfg = qcw::parseFortiGateConfig(text);
    QVERIFY(!cfg.complete());
    QVERIFY2(contains(cfg.problems.back(), "unterminated config block 'config system interface' opened at line 1"),
             cfg.problems.back().c_str());
    QCOMPARE(int(cfg.root.children.size()), 1);
    QCOMPARE(int(cfg.root.children[0].children.size()), 2);
    QCOMPARE(cfg.root.children[0].children[1].value("ip"), std::string("10.0.2.4 255.255.255.0"));

    QTemporaryDir tmp;
    std::string in = tmp.filePath("in").toStdString();
    spit(in + "/cut.conf", text);
    auto doc = qcw::readDocument(in + "/cut.conf");
    QCOMPARE(doc.status, std::string("partial"));
    QVERIFY2(contains(doc.reason, "unterminated"), doc.reason.c_str());
    bool port1 = false;
    for (const auto& p : doc.pairs) port1 = port1 || p.prompt == "How is the FortiGate interface port1 configured?";
    QVERIFY(port1);
    auto res = qcw::buildDataset({in}, {});
    QCOMPARE(res.filesRead, 1);
    QVERIFY(!res.records.empty());
    QCOMPARE(res.files.back().status, std::string("partial"));
}

void TestDataProcessor::symlinkLoopReported() {
    QTemporaryDir tmp;
    std::string in = tmp.filePath("in").toStdString();
    spit(in + "/sub/doc.txt", "A document inside a folder with a loop.\n");
    QCOMPARE(::symlink("..", (in + "/sub/up").c_str()), 0);          // directory loop
    QCOMPARE(::symlink("self", (in + "/self").c_str()), 0);          // link to itself
    QCOMPARE(::symlink("nowhere.txt", (in + "/dangling").c_str()), 0);
    auto res = qcw::buildDataset({in}, {});
    QCOMPARE(res.filesRead, 1);
    QVERIFY2(skippedWith(res, "sub/up", "symlink loop"), describeSkipped(res).c_str());
    QVERIFY2(skippedWith(res, "self", "symlink loop"), describeSkipped(res).c_str());
    QVERIFY2(skippedWith(res, "dangling", "broken symlink"), describeSkipped(res).c_str());
}

void TestDataProcessor::binaryAndSpecialFilesSkipped() {
    QTemporaryDir tmp;
    std::string in = tmp.filePath("in").toStdString();
    spit(in + "/logo.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
    spit(in + "/dump.txt", std::string("abc\0\0\0def", 9));
    spit(in + "/blob", std::string("\x01\x02\0\x03", 4));
    fs::create_directories(in);
    QCOMPARE(::mkfifo((in + "/pipe").c_str(), 0600), 0);
    spit(in + "/README", "# Notes\n\nPlain text without an extension.\n");
    auto res = qcw::buildDataset({in}, {});
    QCOMPARE(res.filesRead, 1);
    QVERIFY2(skippedWith(res, "logo.png", "binary"), describeSkipped(res).c_str());
    QVERIFY2(skippedWith(res, "dump.txt", "binary"), describeSkipped(res).c_str());
    QVERIFY2(skippedWith(res, "blob", "binary"), describeSkipped(res).c_str());
    QVERIFY2(skippedWith(res, "pipe", "not a regular file"), describeSkipped(res).c_str());
}

// ------------------------------------------------------------------- readers and parsers --

void TestDataProcessor::fortiGateParser() {
    const std::string text =
        "#config-version=FGVMAZ-7.2.5\n"
        "config firewall policy\n"
        "    edit 7\n"
        "        set name \"web \\\"in\\\"\"\n"
        "        set srcaddr \"net a\" \"net b\"\n"
        "        set comments \"two\nlines\"\n"
        "        unset nat\n"
        "    next\n"
        "end\n"
        "config router bgp\n"
        "    set as 65010\n"
        "    config neighbor\n"
        "        edit \"169.254.21.1\"\n"
        "            set remote-as 65515\n"
        "        next\n"
        "    end\n"
        "end\n"
        "end\n";
    auto cfg = qcw::parseFortiGateConfig(text);
    QCOMPARE(int(cfg.root.children.size()), 2);
    const auto& policy = cfg.root.children[0];
    QCOMPARE(policy.name, std::string("firewall policy"));
    QCOMPARE(policy.children[0].name, std::string("7"));
    QCOMPARE(policy.children[0].value("name"), std::string("web \"in\""));
    QCOMPARE(policy.children[0].sets[1].second.size(), std::size_t(2));
    QCOMPARE(policy.children[0].value("srcaddr"), std::string("net a net b"));
    QCOMPARE(policy.children[0].value("comments"), std::string("two\nlines"));
    QCOMPARE(policy.children[0].unsets.at(0), std::string("nat"));
    const auto& bgp = cfg.root.children[1];
    QCOMPARE(bgp.value("as"), std::string("65010"));
    QCOMPARE(bgp.children[0].children[0].value("remote-as"), std::string("65515"));
    QCOMPARE(int(cfg.problems.size()), 1);  // the stray last `end`
    QVERIFY(contains(cfg.problems[0], "end without config"));
    QVERIFY(qcw::looksLikeFortiGate(text));
}

void TestDataProcessor::fortiGatePairs() {
    auto doc = qcw::readDocument(docsDir() + "/corpus/fgt-azure-a.conf");
    QCOMPARE(doc.type, std::string("fortigate"));
    std::map<std::string, std::string> pairs;
    const std::string on = "On FortiGate fgt-azure-a, ";  // the hostname from config system global
    for (const auto& p : doc.pairs) {
        QVERIFY2(p.prompt.rfind(on, 0) == 0, p.prompt.c_str());
        std::string q = p.prompt.substr(on.size());
        q[0] = char(std::toupper(q[0]));
        pairs[q] = p.completion;
    }
    QVERIFY(pairs.count("What does firewall policy 7 allow?"));
    const std::string& a = pairs["What does firewall policy 7 allow?"];
    QVERIFY2(contains(a, "allows traffic from interface port1 to interface port2") && contains(a, "HTTPS") &&
                 contains(a, "source NAT"),
             a.c_str());
    QVERIFY(contains(pairs["What does firewall policy 8 allow?"], "denies"));
    QVERIFY(pairs.count("How is the FortiGate interface port1 configured?"));
    QVERIFY(pairs.count("What does the virtual IP vip-web-https map?"));
    QVERIFY(contains(pairs["What does the virtual IP vip-web-https map?"], "10.0.10.10"));
    QVERIFY(pairs.count("What are the FortiGate HA (high availability) settings?"));
    QVERIFY(contains(pairs["What does static route 1 do?"], "10.0.1.1"));
    QVERIFY(pairs.count("What is the firewall address object azure-web-subnet?"));
    for (const auto& [q, a2] : pairs) QVERIFY(!contains(a2, "ENC "));
    // Sections keep line positions of the original file.
    bool found = false;
    for (const auto& s : doc.sections)
        if (s.title == "config firewall policy") {
            auto pos = doc.position(s.begin, s.end);
            QCOMPARE(pos.lineStart, 75);
            found = true;
        }
    QVERIFY(found);
}

void TestDataProcessor::terraformParserAndPairs() {
    const std::string tf =
        "# comment { not a block\n"
        "resource \"azurerm_lb_probe\" \"fgt_probe\" {\n"
        "  name     = \"lbprobe\" // trailing comment\n"
        "  port     = 8008\n"
        "  tags     = { env = \"prod\", owner = \"${var.team}-net\" }\n"
        "  script   = <<-EOT\n"
        "    echo \"}\" {\n"
        "  EOT\n"
        "  dynamic \"rule\" {\n"
        "    for_each = [1, 2]\n"
        "    content { port = rule.value }\n"
        "  }\n"
        "}\n"
        "/* block comment resource \"x\" \"y\" { */\n"
        "variable \"region\" { default = \"westeurope\" }\n";
    auto f = qcw::parseHcl(tf);
    QVERIFY2(f.problems.empty(), f.problems.empty() ? "" : f.problems[0].c_str());
    QCOMPARE(int(f.blocks.size()), 2);
    const auto& r = f.blocks[0];
    QCOMPARE(r.type, std::string("resource"));
    QCOMPARE(r.labels, (std::vector<std::string>{"azurerm_lb_probe", "fgt_probe"}));
    QCOMPARE(int(r.attributes.size()), 4);
    QCOMPARE(r.attributes[0].value, std::string("\"lbprobe\""));
    QCOMPARE(r.attributes[1].value, std::string("8008"));
    QVERIFY(contains(r.attributes[3].value, "echo"));
    QCOMPARE(int(r.blocks.size()), 1);
    QCOMPARE(r.blocks[0].blocks.at(0).type, std::string("content"));
    QCOMPARE(f.blocks[1].attributes.at(0).value, std::string("\"westeurope\""));

    auto doc = qcw::readDocument(docsDir() + "/corpus/fgt-ha.tf");
    std::map<std::string, std::string> pairs;
    for (const auto& p : doc.pairs) pairs[p.prompt] = p.completion;
    QVERIFY(pairs.count("What does the Terraform resource azurerm_lb_probe.fgt_probe configure?"));
    QVERIFY(contains(pairs["What does the Terraform resource azurerm_lb_probe.fgt_probe configure?"], "port = 8008"));
    QVERIFY(pairs.count("What does the Terraform resource azurerm_linux_virtual_machine.fgt_a configure?"));
    QVERIFY(contains(pairs["What does the Terraform resource azurerm_linux_virtual_machine.fgt_a configure?"],
                     "block os_disk:"));
    QVERIFY(doc.warnings.empty());
}

void TestDataProcessor::armTemplate() {
    auto doc = qcw::readDocument(docsDir() + "/corpus/fgt-ha-deploy.json");
    QCOMPARE(doc.type, std::string("arm"));
    bool lb = false, params = false;
    for (const auto& p : doc.pairs) {
        lb = lb || (contains(p.prompt, "Microsoft.Network/loadBalancers") && contains(p.completion, "probes[0].properties.port: 8008"));
        params = params || contains(p.prompt, "Which parameters");
    }
    QVERIFY(lb && params);
    bool section = false;
    for (const auto& s : doc.sections) section = section || (s.kind == "arm_resource" && contains(s.text, "Standard_F4s"));
    QVERIFY(section);
}

void TestDataProcessor::htmlReader() {
    std::string html =
        "<html><head><title>T &amp; C</title><style>p{color:red}</style><script>var k='x<p>y';</script></head>"
        "<body><h2>VPN&nbsp;setup</h2><p>Use &lt;IKEv2&gt; &#8211; &#x41;ES.</p><!-- hidden --><ul><li>one</li><li>two</li></ul>"
        "<pre>config vpn\n  set x 1\nend</pre></body></html>";
    std::string t = qcw::htmlToText(html);
    QVERIFY2(contains(t, "# T & C"), t.c_str());
    QVERIFY2(contains(t, "## VPN setup\n\nUse <IKEv2> \xE2\x80\x93 AES."), t.c_str());
    QVERIFY(contains(t, "- one\n- two"));
    QVERIFY(contains(t, "config vpn\n  set x 1\nend"));
    QVERIFY(!contains(t, "color") && !contains(t, "var k") && !contains(t, "hidden"));
    QVERIFY(contains(qcw::htmlToText("<html><head><title>x</title><body><p>kept body</p>"), "kept body"));
    QVERIFY(contains(qcw::htmlToText("<head><meta charset=utf-8><p>no body tag</p>"), "no body tag"));
    auto doc = qcw::readDocument(docsDir() + "/corpus/branch-vpn.html");
    QCOMPARE(doc.type, std::string("html"));
    bool pair = false;
    for (const auto& p : doc.pairs) pair = pair || contains(p.prompt, "IPsec settings");
    QVERIFY(pair);
}

void TestDataProcessor::csvParser() {
    auto rows = qcw::parseCsv("a,b,c\r\n1,\"x, \"\"y\"\"\",\"multi\nline\"\n,,\n");
    QCOMPARE(int(rows.size()), 3);
    QCOMPARE(rows[1][1], std::string("x, \"y\""));
    QCOMPARE(rows[1][2], std::string("multi\nline"));
    QCOMPARE(int(rows[2].size()), 3);
    auto doc = qcw::readDocument(docsDir() + "/corpus/fgt-inventory.csv");
    QVERIFY2(contains(doc.text, "name: fgt-azure-a; ip: 10.0.1.4"), doc.text.c_str());
    QCOMPARE(doc.redactionCounts["password"], 2);
}

void TestDataProcessor::yamlFlatten() {
    auto kv = qcw::flattenYaml(
        "# c\nfortigate:\n  admin:\n    user: admin # inline\n  ports:\n    - name: port1\n      role: wan\n    - port2\n"
        "notes: |\n  line one\n  line two\nlist:\n- a\n- 'b: c'\n");
    std::map<std::string, std::string> m(kv.begin(), kv.end());
    QCOMPARE(m["fortigate.admin.user"], std::string("admin"));
    QCOMPARE(m["fortigate.ports[0].name"], std::string("port1"));
    QCOMPARE(m["fortigate.ports[0].role"], std::string("wan"));
    QCOMPARE(m["fortigate.ports[1]"], std::string("port2"));
    QCOMPARE(m["notes"], std::string("line one\nline two"));
    QCOMPARE(m["list[1]"], std::string("b: c"));
}

void TestDataProcessor::markdownPairsAndUserPairs() {
    auto md = qcw::readDocument(docsDir() + "/corpus/runbook-break-glass.md");
    QCOMPARE(md.type, std::string("markdown"));
    bool scope = false;
    for (const auto& p : md.pairs)
        scope = scope || (p.prompt == "In \"FortiGate on Azure: break-glass runbook\", what is said about \"Scope\"?" &&
                          contains(p.completion, "active-passive"));
    QVERIFY(scope);
    auto jl = qcw::readDocument(docsDir() + "/corpus/qa-pairs.jsonl");
    QCOMPARE(jl.type, std::string("jsonl"));
    QCOMPARE(int(jl.pairs.size()), 3);
    QCOMPARE(jl.pairs[0].prompt, std::string("What port does the Azure load balancer probe use for FortiGate?"));
    QVERIFY(contains(jl.pairs[1].completion, "[REDACTED:password]"));
    QVERIFY(contains(jl.pairs[2].messagesJson, "[REDACTED:sas_token]"));
    QVERIFY(!json::parse(jl.pairs[2].messagesJson)["messages"].empty());
}

// ------------------------------------------------------------------------------- dataset --

void TestDataProcessor::dedupExactAndNear() {
    std::string base;
    for (int i = 0; i < 60; ++i) base += "The FortiGate pair sits behind the Azure load balancer, rule " + std::to_string(i) + ". ";
    std::string near = base;
    near.replace(near.find("rule 30"), 7, "rule X30");
    std::string other;
    for (int i = 0; i < 60; ++i) other += "Spoke routing uses user defined routes towards the internal balancer " + std::to_string(i * 7) + ". ";
    QTemporaryDir tmp;
    std::string in = tmp.filePath("in").toStdString();
    spit(in + "/a.txt", base);
    spit(in + "/b.txt", "  " + base + "\n\n");  // same after normalisation
    spit(in + "/c.txt", near);
    spit(in + "/d.txt", other);
    auto res = qcw::buildDataset({in}, qcw::DataOptions().setMaxTokens(4096));
    QCOMPARE(res.exactDuplicates, 1);
    QCOMPARE(res.nearDuplicates, 1);
    QCOMPARE(int(res.records.size()), 2);
    auto sa = qcw::minhashSignature(base), sb = qcw::minhashSignature(near), sc = qcw::minhashSignature(other);
    QVERIFY(qcw::jaccardEstimate(sa, sb) > 0.8);
    QVERIFY(qcw::jaccardEstimate(sa, sc) < 0.2);
}

void TestDataProcessor::chunkingRespectsTokens() {
    std::string text;
    for (int i = 0; i < 400; ++i) text += "word" + std::to_string(i) + (i % 25 == 24 ? "\n\n" : " ");
    QTemporaryDir tmp;
    std::string in = tmp.filePath("in").toStdString();
    spit(in + "/long.txt", text);
    auto res = qcw::buildDataset({in}, qcw::DataOptions().setMaxTokens(64).setOverlap(16));
    QVERIFY(res.records.size() > 5);
    for (const auto& r : res.records) QVERIFY2(r.tokens <= 64, std::to_string(r.tokens).c_str());
    // Consecutive chunks overlap and positions point into the file.
    for (std::size_t i = 1; i < res.records.size(); ++i) {
        QVERIFY(res.records[i].position.byteStart < res.records[i - 1].position.byteEnd);
        QCOMPARE(text.substr(res.records[i].position.byteStart, res.records[i].text.size()), res.records[i].text);
    }
    QCOMPARE(res.tokenizer, std::string("approx-bytes/4"));
    // With a tokenizer callback (one token per word) the limit holds in its units.
    auto words = [](const std::string& s) {
        std::vector<int> ids;
        std::istringstream is(s);
        for (std::string w; is >> w;) ids.push_back(int(w.size()));
        return ids;
    };
    auto res2 = qcw::buildDataset({in}, qcw::DataOptions().setMaxTokens(50).setOverlap(10).setTokenize(words));
    QCOMPARE(res2.tokenizer, std::string("callback"));
    QVERIFY(res2.records.size() >= 9);
    for (const auto& r : res2.records) QVERIFY2(r.tokens <= 50, std::to_string(r.tokens).c_str());
    QVERIFY(contains(res2.manifestJson(), "\"tokenizer\": \"callback\""));
}

void TestDataProcessor::evalSplitDeterministic() {
    auto opts = qcw::DataOptions().setEvalFraction(0.3);
    auto a = qcw::buildDataset({docsDir() + "/corpus"}, opts);
    auto b = qcw::buildDataset({docsDir() + "/corpus"}, opts);
    QCOMPARE(a.evalSources, b.evalSources);
    QCOMPARE(int(a.evalSources.size()), 3);  // 30 % of 9 files
    std::set<std::string> train, eval;
    for (const auto& r : a.records) (r.eval ? eval : train).insert(r.source);
    for (const auto& s : eval) QVERIFY(!train.count(s));
    QVERIFY(a.evalRecords() > 0 && a.trainRecords() > 0);
}

void TestDataProcessor::outputAtomicAndInputsUntouched() {
    QTemporaryDir tmp;
    std::string in = tmp.filePath("in").toStdString();
    fs::copy(docsDir() + "/corpus", in, fs::copy_options::recursive);
    std::map<std::string, std::pair<std::string, fs::file_time_type>> before;
    for (const auto& e : fs::directory_iterator(in)) before[e.path().string()] = {slurp(e.path().string()), e.last_write_time()};
    std::string out = tmp.filePath("out").toStdString();
    auto res = qcw::buildDataset({in}, {});
    qcw::writeDataset(res, out);
    QVERIFY(fs::exists(out + "/dataset.jsonl") && fs::exists(out + "/manifest.json"));
    // A second run into the same non-empty directory is refused and leaves it as it was.
    std::string manifest = slurp(out + "/manifest.json");
    bool threw = false;
    try {
        qcw::writeDataset(res, out);
    } catch (const qcw::Error&) {
        threw = true;
    }
    QVERIFY(threw);
    QCOMPARE(slurp(out + "/manifest.json"), manifest);
    for (const auto& e : fs::directory_iterator(tmp.path().toStdString()))
        QVERIFY2(!contains(e.path().filename().string(), ".tmp-"), e.path().c_str());
    for (const auto& [path, state] : before) {
        QCOMPARE(slurp(path), state.first);
        QVERIFY(fs::last_write_time(path) == state.second);
    }
    json m = json::parse(manifest);
    QCOMPARE(m["files_read"].get<int>(), 9);
    QVERIFY(m["records"].get<int>() > 0);
    QVERIFY(m.contains("files_skipped") && m.contains("redactions") && m.contains("duplicates"));
}

void TestDataProcessor::cancellation() {
    QTemporaryDir tmp;
    qcw::RunContext ctx;
    int reports = 0;
    ctx.setCallback([&](const qcw::Progress& p) {
        if (p.stage == "read" && ++reports == 2) ctx.cancel();
    });
    bool cancelled = false;
    try {
        auto res = qcw::buildDataset({docsDir() + "/corpus"}, {}, ctx);
        qcw::writeDataset(res, tmp.filePath("out").toStdString());
    } catch (const qcw::Cancelled&) {
        cancelled = true;
    }
    QVERIFY(cancelled);
    QVERIFY(!fs::exists(tmp.filePath("out").toStdString()));
}

void TestDataProcessor::cliEndToEnd() {
    QString exe = QString(QCW_BIN_DIR) + "/qcompress";
    if (!QFileInfo::exists(exe)) QSKIP("qcompress is not built");
    QTemporaryDir tmp;
    QString out = tmp.filePath("out");
    QProcess p;
    p.start(exe, {"data", "build", "--in", QString::fromStdString(docsDir() + "/corpus"), "--out", out, "--eval-fraction",
                  "0.2", "--max-tokens", "256", "--overlap", "32", "--anonymize-emails", "--json"});
    QVERIFY(p.waitForFinished(60000));
    QCOMPARE(p.exitCode(), 0);
    json summary = json::parse(p.readAllStandardOutput().toStdString());
    QVERIFY(summary["records"].get<int>() > 0);
    QCOMPARE(summary["files_read"].get<int>(), 9);
    QVERIFY(summary["anonymized"]["email"].get<int>() >= 2);
    std::string output = allOutput(out.toStdString());
    std::ifstream planted(docsDir() + "/PLANTED.jsonl");
    for (std::string line; std::getline(planted, line);)
        if (!line.empty()) QVERIFY(!contains(output, json::parse(line)["secret"].get<std::string>()));
    QVERIFY(!contains(output, "noc@contoso.example"));
    // A second run into the same directory is refused with a one-line error.
    QProcess again;
    again.start(exe, {"data", "build", "--in", QString::fromStdString(docsDir() + "/corpus"), "--out", out});
    QVERIFY(again.waitForFinished(60000));
    QCOMPARE(again.exitCode(), 1);
    QVERIFY(again.readAllStandardError().contains("not empty"));
}

QTEST_APPLESS_MAIN(TestDataProcessor)
#include "test_data_processor.moc"
