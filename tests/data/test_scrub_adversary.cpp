// The scrubber against an adversary: secrets split across lines, in JSON strings with
// escapes, base64- or URL-encoded, in Terraform heredocs and ARM parameter files, in PDF
// text, with Unicode look-alikes and invisible characters around them; and a property test:
// secrets of every detector's shape, generated at random and put into random documents of
// every format in random disguises, never reach dataset.jsonl.
#include "data/data.h"
#include "test_support.h"

#include <QtTest>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <regex>

namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// All text a document gives the dataset builder.
std::string everything(const qcw::DocumentReport& r) {
    std::string all = r.text;
    for (const auto& s : r.sections) all += "\n" + s.title + "\n" + s.text;
    for (const auto& p : r.pairs) all += "\n" + p.prompt + "\n" + p.completion + "\n" + p.messagesJson;
    return all;
}

// A one-page-per-entry PDF with Helvetica text (enough for poppler to extract it).
std::string pdf(const std::vector<std::string>& pages) {
    std::vector<std::string> objs = {"<< /Type /Catalog /Pages 2 0 R >>", "", "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"};
    std::string kids;
    for (const auto& t : pages) {
        std::string stream = "BT /F1 12 Tf 72 720 Td (" + t + ") Tj ET";
        objs.push_back("<< /Length " + std::to_string(stream.size()) + " >>\nstream\n" + stream + "\nendstream");
        objs.push_back("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents " +
                       std::to_string(objs.size()) + " 0 R >>");
        kids += std::to_string(objs.size()) + " 0 R ";
    }
    objs[1] = "<< /Type /Pages /Kids [" + kids + "] /Count " + std::to_string(pages.size()) + " >>";
    return qcw::test::pdfFromObjects(objs);
}

std::string base64(const std::string& in) {
    static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];
        out += a[v >> 18 & 63], out += a[v >> 12 & 63], out += a[v >> 6 & 63], out += a[v & 63];
    }
    if (i + 1 == in.size()) {
        unsigned v = (unsigned char)in[i] << 16;
        out += a[v >> 18 & 63], out += a[v >> 12 & 63], out += "==";
    } else if (i + 2 == in.size()) {
        unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;
        out += a[v >> 18 & 63], out += a[v >> 12 & 63], out += a[v >> 6 & 63], out += '=';
    }
    return out;
}

std::string percent(const std::string& in) {
    std::string out;
    for (unsigned char c : in) {
        if (std::isalnum(c)) out += char(c);
        else {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", c);
            out += buf;
        }
    }
    return out;
}

}  // namespace

class TestScrubAdversary : public QObject {
    Q_OBJECT

private slots:
    void disguises_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QStringList>("secrets");
        const QString pw = "Zq8!vL2#mN5pR7tY";
        auto row = [](const char* name, const char* file, const std::string& bytes, QStringList secrets) {
            QTest::newRow(name) << QString(file) << QByteArray::fromStdString(bytes) << secrets;
        };
        row("json string escapes", "a.json", "{\"password\": \"Sup3r\\\"Secr3t!\\u0041bc9x\", \"x\": 1}", {"Secr3t", "bc9x"});
        row("json \\u escapes in the key", "b.json", "{\"pass\\u0077ord\": \"Zq8!vL2#mN5pR7tY\"}", {pw});
        row("value on the next line", "c.txt", "The admin password is\n   Zq8!vL2#mN5pR7tY\nfor now.", {pw});
        row("yaml folded scalar", "c.yaml", "db:\n  password: >\n    Zq8!vL2#mN5pR7tY\n", {pw});
        row("base64 of an assignment", "d.txt", "creds: " + base64("password=Zq8!vL2#mN5pR7tY") + "\n",
            {QString::fromStdString(base64("password=Zq8!vL2#mN5pR7tY")).left(30), pw});
        row("base64 of base64", "d2.txt", "blob " + base64(base64("api_key=Zq8vL2mN5pR7tYw9Xc4")) + " end\n",
            {QString::fromStdString(base64(base64("api_key=Zq8vL2mN5pR7tYw9Xc4"))).left(30)});
        row("url-encoded assignment", "e.txt", "https://h/login?user=ops&" + percent("password=Zq8!vL2#mN5pR7tY") + "&x=1\n",
            {"Zq8%21vL2%23mN5pR7tY", pw});
        row("url query value", "e2.txt", "https://h/login?user=ops&password=Zq8%21vL2%23mN5pR7tY&x=1\n", {"Zq8%21vL2%23mN5pR7tY"});
        row("terraform heredoc", "f.tf",
            "resource \"x\" \"y\" {\n  custom_data = <<EOT\nconfig system admin\n  edit admin\n    set password Zq8vL2mN5pR7tYw\n"
            "  next\nend\nadmin_password = \"Zq8!vL2#mN5pR7tY\"\nEOT\n}\n",
            {"Zq8vL2mN5pR7tYw", pw});
        row("terraform indented heredoc", "f2.tf",
            "locals {\n  bootstrap = <<-EOF\n    #!/bin/sh\n    export DB_PASSWORD='Zq8!vL2#mN5pR7tY'\n  EOF\n}\n", {pw});
        row("arm parameter file", "g.json",
            "{\"$schema\": \"https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#\", \"contentVersion\": \"1.0.0.0\", \"parameters\": {\"adminPassword\": {\"value\": \"Zq8!vL2#mN5pR7tY\"}, \"adminUsername\": {\"value\": \"fgtadmin\"}}}",
            {pw});
        row("cyrillic a in the keyword", "h.txt", "p\xD0\xB0ssword: Zq8!vL2#mN5pR7tY\n", {pw});
        row("zero-width space in the keyword", "i.txt", "pass\xE2\x80\x8Bword = Zq8!vL2#mN5pR7tY\n", {pw});
        row("fullwidth keyword", "j.txt",
            "\xEF\xBD\x90\xEF\xBD\x81\xEF\xBD\x93\xEF\xBD\x93\xEF\xBD\x97\xEF\xBD\x8F\xEF\xBD\x92\xEF\xBD\x84: Zq8!vL2#mN5pR7tY\n", {pw});
        row("no-break spaces around", "k.txt", "password:\xC2\xA0Zq8!vL2#mN5pR7tY\xC2\xA0\n", {pw});
        row("zero-width space inside a token", "l.txt", "token AKIA\xE2\x80\x8BIOSFODNN7EXAMPLE1\n", {"IOSFODNN7EXAMPLE1"});
        row("soft hyphen inside a token", "l2.md", "# Keys\n\nghp_aB3dE5gH7jK9\xC2\xADmN1pQ3sT5vW7yZ9bC1dE3fG5\n", {"mN1pQ3sT5vW7yZ9bC1dE3fG5"});
        row("private key in a json string", "n.json",
            "{\"key\": \"-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\\n-----END PRIVATE KEY-----\\n\"}",
            {"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"});
        row("pdf text", "p.pdf", pdf({"Break-glass account", "The password is Zq8vL2mN5pR7tYw9 until rotated"}), {"Zq8vL2mN5pR7tYw9"});
        row("pdf token", "q.pdf", pdf({"Deploy key ghp_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5"}), {"aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5"});
    }
    void disguises() {
        QFETCH(QString, file);
        QFETCH(QByteArray, bytes);
        QFETCH(QStringList, secrets);
        auto r = qcw::readDocumentBytes(file.toStdString(), bytes.toStdString());
        QVERIFY2(!r.skipped(), r.reason.c_str());
        const std::string all = everything(r);
        for (const auto& s : secrets) QVERIFY2(all.find(s.toStdString()) == std::string::npos, qPrintable("leaked " + s + ": " + QString::fromStdString(all)));
        QVERIFY(!r.redactions.empty());
    }

    // What the disguises must not cost: ordinary text with non-ASCII, %-escapes in URLs and
    // base64 of plain words passes through unredacted.
    void noFalseAlarms() {
        const std::string text =
            "Caf\xC3\xA9 r\xC3\xA9sum\xC3\xA9 \xE2\x80\x94 the na\xC3\xAFve approach.\n"
            "See https://example.com/search?q=load%20balancer%20probe&lang=en for the docs.\n"
            "The banner reads " + base64("Welcome to the branch office firewall") + " when decoded.\n"
            "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 \xD0\xBC\xD0\xB8\xD1\x80 (Russian for hello world).\n";
        auto r = qcw::scrubText(text);
        QVERIFY2(r.spans.empty(), r.text.c_str());
        QCOMPARE(r.text, text);
    }

    // The property: secrets of every detector's shape, random, in random formats and
    // disguises, never appear in dataset.jsonl (nor in its eval split or manifest).
    void propertyNoSecretSurvives() {
        std::mt19937_64 rng(20261207);
        auto pick = [&](const std::string& alphabet, int n) {
            std::string s;
            for (int i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
            return s;
        };
        const std::string up = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", lo = "abcdefghijklmnopqrstuvwxyz", dig = "0123456789";
        const std::string an = up + lo + dig, b64 = an + "+/";
        // Each generator: the secret text, and the part of it that must not survive.
        struct Secret { std::string line, core; };
        auto withDigits = [&](std::string s) {  // shaped detectors want letters and digits
            s[s.size() / 2] = dig[rng() % 10];
            s[s.size() / 3] = up[rng() % 26];
            s[s.size() / 4] = lo[rng() % 26];
            return s;
        };
        std::vector<std::function<Secret()>> gens = {
            [&] { auto k = "AKIA" + pick(up + dig, 16); k[10] = '7'; return Secret{"aws_access_key_id = " + k, k.substr(4)}; },
            [&] { auto k = "ghp_" + withDigits(pick(an, 36)); return Secret{"token " + k, k.substr(4)}; },
            [&] { auto k = "glpat-" + withDigits(pick(an, 20)); return Secret{"export GITLAB=" + k, k.substr(6)}; },
            [&] { auto k = "sk-" + withDigits(pick(an, 48)); return Secret{"OPENAI_API_KEY: " + k, k.substr(3)}; },
            [&] { auto k = "AIza" + withDigits(pick(an + "_-", 35)); return Secret{"maps key " + k, k.substr(4)}; },
            [&] { auto k = withDigits(pick(b64, 86)) + "=="; return Secret{"AccountKey=" + k + ";EndpointSuffix=core.windows.net", k.substr(0, 80)}; },
            [&] { auto k = pick(an, 3) + dig[rng() % 10] + "Q~" + withDigits(pick(an + "_-.", 34)); return Secret{"client secret " + k, k.substr(6)}; },
            [&] { auto p = withDigits(pick(an + "!#*@", 18)); return Secret{"password = " + p, p}; },
            [&] { auto p = withDigits(pick(an, 20)); return Secret{"set psksecret ENC " + p, p}; },
            [&] { auto b = withDigits(pick(b64, 64)); return Secret{"-----BEGIN OPENSSH PRIVATE KEY-----\n" + b + "\n-----END OPENSSH PRIVATE KEY-----", b}; },
        };
        // Disguises of a whole line: none, look-alike keyword letters, invisible characters,
        // no-break spaces, base64 of the line, URL-encoding of the line.
        auto disguise = [&](const Secret& s, int how) -> std::string {
            std::string l = s.line;
            switch (how) {
                case 1: {  // a Cyrillic look-alike for the first a/e/o/p of the line
                    auto at = l.find_first_of("aeop");
                    if (at != std::string::npos) {
                        const char* rep = l[at] == 'a' ? "\xD0\xB0" : l[at] == 'e' ? "\xD0\xB5" : l[at] == 'o' ? "\xD0\xBE" : "\xD1\x80";
                        l.replace(at, 1, rep);
                    }
                    return l;
                }
                case 2: {  // a zero-width space before the first letter of the keyword and after the line
                    l.insert(1, "\xE2\x80\x8B");
                    return l + "\xE2\x80\x8B";
                }
                case 3: {
                    auto sp = l.find(' ');
                    if (sp != std::string::npos) l.replace(sp, 1, "\xC2\xA0");
                    return l;
                }
                case 4: return s.line.find('\n') == std::string::npos ? "blob " + base64(s.line) : l;
                case 5: return s.line.find('\n') == std::string::npos ? "https://h/cb?" + percent(s.line) : l;
                default: return l;
            }
        };
        // Formats: the line placed where each reader will see it.
        auto place = [&](const std::string& line, int fmt, std::string& name) -> std::string {
            std::string esc;  // as a JSON string
            for (char c : line) esc += c == '\n' ? std::string("\\n") : c == '"' ? std::string("\\\"") : c == '\\' ? std::string("\\\\") : std::string(1, c);
            switch (fmt) {
                case 0: name = ".txt"; return "Notes from the change window.\n" + line + "\nDone.\n";
                case 1: name = ".md"; return "# Runbook\n\n## Access\n\n" + line + "\n\nThen log in.\n";
                case 2: name = ".json"; return "{\"notes\": \"" + esc + "\", \"n\": 1}\n";
                case 3: name = ".yaml"; return "service:\n  notes: |\n    " + std::regex_replace(line, std::regex("\n"), "\n    ") + "\n  port: 443\n";
                case 4: name = ".tf"; return "locals {\n  script = <<-EOT\n    " + line + "\n  EOT\n}\n";
                case 5: name = ".html"; return "<html><body><h1>Access</h1><p>" + line + "</p></body></html>\n";
                case 6: name = ".json";
                    return "{\"$schema\": \"https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#\", "
                           "\"contentVersion\": \"1.0.0.0\", \"parameters\": {\"note\": {\"value\": \"" + esc + "\"}}}\n";
                case 7: name = ".conf"; return "config system global\n    set hostname \"fw\"\nend\n# " + line + "\n";
                default: name = ".csv"; { std::string one = line; std::replace(one.begin(), one.end(), '\n', ' '); return "host,notes\nfw1,\"" + one + "\"\n"; }
            }
        };
        QTemporaryDir tmp;
        const std::string in = tmp.path().toStdString() + "/in";
        fs::create_directories(in);
        std::vector<std::string> cores;
        const int docs = 270;
        for (int i = 0; i < docs; ++i) {
            Secret s = gens[std::size_t(i) % gens.size()]();
            std::string line = disguise(s, int(rng() % 6));
            std::string ext;
            std::string body = place(line, int(rng() % 9), ext);
            std::ofstream(in + "/doc" + std::to_string(i) + ext, std::ios::binary) << body;
            cores.push_back(s.core);
        }
        auto res = qcw::buildDataset({in}, qcw::DataOptions().setDedup(false).setEvalFraction(0.1));
        const std::string out = tmp.path().toStdString() + "/out";
        qcw::writeDataset(res, out);
        std::string written = slurp(out + "/dataset.jsonl") + slurp(out + "/eval.jsonl") + slurp(out + "/manifest.json");
        QVERIFY(written.size() > 10000);
        int leaked = 0;
        for (std::size_t i = 0; i < cores.size(); ++i)
            if (written.find(cores[i]) != std::string::npos) {
                ++leaked;
                qWarning("doc%zu leaked %s", i, cores[i].c_str());
            }
        qInfo("%d documents, %zu records, %d secrets leaked", docs, res.records.size(), leaked);
        QCOMPARE(leaked, 0);
    }
};

QTEST_GUILESS_MAIN(TestScrubAdversary)
#include "test_scrub_adversary.moc"
