// Safetensors, config.json and checkpoint directories: round trips and every kind of bad input
// (each must give one qcw::Error naming the file and the problem, never a crash).
#include "common/error.h"
#include "common/files.h"
#include "io/checkpoint.h"
#include "io/inventory.h"
#include "io/phi_config.h"
#include "io/safetensors.h"

#include <QTemporaryDir>
#include <QtTest>

#include "../common/test_support.h"

#include <cstring>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace qcw;
using qcw::test::errorOf;

namespace {

void writeBytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A safetensors file from a raw header text and a data section.
std::string rawSafetensors(const std::string& header, const std::string& data, std::uint64_t lenOverride = 0) {
    std::uint64_t len = lenOverride ? lenOverride : header.size();
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((len >> (8 * i)) & 0xff);
    return out + header + data;
}


std::string fixture(const char* rel) { return std::string(QCW_TEST_DATA) + "/" + rel; }

void copyTinyConfig(const fs::path& dir, const std::string& configText) {
    fs::create_directories(dir);
    std::ofstream(dir / "config.json") << configText;
}

}  // namespace

class TestIo : public QObject {
    Q_OBJECT
private slots:
    void roundTrip() {
        QTemporaryDir tmp;
        const std::string path = tmp.filePath("t.safetensors").toStdString();
        std::vector<float> a = {1.f, 2.f, 3.f, 4.f, 5.f, 6.f};
        std::vector<std::int64_t> b = {7, -8};
        std::vector<std::uint16_t> h = {0x3c00, 0xc000};  // fp16 1.0, -2.0
        writeSafetensors(path,
                         {{"a", DType::F32, {2, 3}, a.data(), {}},
                          {"b", DType::I64, {2}, b.data(), {}},
                          {"h", DType::F16, {2}, h.data(), {}},
                          {"filled", DType::BF16, {3}, nullptr, [](void* dst, std::size_t n) { std::memset(dst, 0x11, n); }}},
                         {{"note", "test"}});
        auto f = SafetensorsFile::open(path);
        QCOMPARE(f->tensors().size(), std::size_t(4));
        QCOMPARE(f->metadata().at("note"), std::string("test"));
        const TensorView* ta = f->find("a");
        QVERIFY(ta);
        QCOMPARE(ta->shape, (std::vector<std::int64_t>{2, 3}));
        QCOMPARE(std::memcmp(ta->data, a.data(), 24), 0);
        QCOMPARE(f->find("b")->dtype, DType::I64);
        QCOMPARE(std::memcmp(f->find("b")->data, b.data(), 16), 0);
        QCOMPARE(f->find("h")->nbytes, std::size_t(4));
        QCOMPARE(f->find("filled")->data[5], std::uint8_t(0x11));
        // The header is padded so data starts 8-byte aligned.
        QCOMPARE(ta->fileOffset % 8, std::size_t(0));
        QVERIFY(!fs::exists(path + ".tmp"));
    }

    void badFiles_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("expected");
        const std::string ok = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
        QTest::newRow("truncated: no header length") << QByteArray("abc", 3) << "truncated safetensors file";
        QTest::newRow("header length beyond the file")
            << QByteArray::fromStdString(rawSafetensors(ok, std::string(8, '\0'), 4096)) << "runs past the end";
        QTest::newRow("data truncated")
            << QByteArray::fromStdString(rawSafetensors(ok, std::string(4, '\0'))) << "beyond the 4-byte data section";
        QTest::newRow("out-of-range offsets")
            << QByteArray::fromStdString(rawSafetensors(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                                                        std::string(8, '\0')))
            << "beyond the 8-byte data section";
        QTest::newRow("overlapping tensors")
            << QByteArray::fromStdString(rawSafetensors(
                   R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                   std::string(12, '\0')))
            << "overlap";
        QTest::newRow("reversed offsets")
            << QByteArray::fromStdString(rawSafetensors(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})",
                                                        std::string(8, '\0')))
            << "reversed";
        QTest::newRow("size does not match shape")
            << QByteArray::fromStdString(rawSafetensors(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                                                        std::string(8, '\0')))
            << "need 12";
        QTest::newRow("unknown dtype")
            << QByteArray::fromStdString(rawSafetensors(R"({"w":{"dtype":"F8_E9","shape":[2],"data_offsets":[0,2]}})",
                                                        std::string(2, '\0')))
            << "unknown dtype 'F8_E9'";
        QTest::newRow("header is not JSON")
            << QByteArray::fromStdString(rawSafetensors("{not json", "")) << "not valid JSON";
        QTest::newRow("negative dimension")
            << QByteArray::fromStdString(rawSafetensors(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})",
                                                        std::string(8, '\0')))
            << "negative";
        QTest::newRow("missing dtype")
            << QByteArray::fromStdString(rawSafetensors(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0')))
            << "missing dtype";
    }
    void badFiles() {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, expected);
        QTemporaryDir tmp;
        const std::string path = tmp.filePath("bad.safetensors").toStdString();
        writeBytes(path, bytes.toStdString());
        const QString err = errorOf([&] { SafetensorsFile::open(path); });
        QVERIFY2(err.contains(expected), qPrintable("got: " + err));
        QVERIFY2(err.startsWith(QString::fromStdString(path)), qPrintable("error must name the file: " + err));
        QVERIFY(!err.contains('\n'));
    }

    void hugeHeaderIsRefused() {
        // A header length field of 100 MiB + 1 in a file that really is that long (sparse).
        QTemporaryDir tmp;
        const std::string path = tmp.filePath("huge.safetensors").toStdString();
        const std::uint64_t len = (100ull << 20) + 1;
        writeBytes(path, rawSafetensors("{}", "", len));
        fs::resize_file(path, 8 + len + 16);
        const QString err = errorOf([&] { SafetensorsFile::open(path); });
        QVERIFY2(err.contains("exceeds the 100 MiB limit"), qPrintable(err));
    }

    void configBothKeyStyles() {
        const PhiConfig legacy = PhiConfig::load(fixture("phi-1_5-config.json"));
        QCOMPARE(legacy.hiddenSize, 2048);
        QCOMPARE(legacy.numLayers, 24);
        QCOMPARE(legacy.numKvHeads, 32);  // null in the file: defaults to the head count
        QCOMPARE(legacy.partialRotaryFactor, 0.5);
        QCOMPARE(legacy.ropeTheta, 10000.0);
        QVERIFY(!legacy.eosTokenId.has_value());
        // microsoft/phi-1_5 has 1,418,270,720 parameters.
        QCOMPARE(legacy.parameterCount(), std::int64_t(1418270720));
        QCOMPARE(PhiConfig::phi15().parameterCount(), legacy.parameterCount());

        const PhiConfig v5 = PhiConfig::load(fixture("tiny-phi/config.json"));
        QCOMPARE(v5.hiddenSize, 64);
        QCOMPARE(v5.rotaryDim(), 8);
        QCOMPARE(v5.ropeTheta, 10000.0);
        QCOMPARE(*v5.eosTokenId, std::int64_t(2));
        QCOMPARE(v5.parameterCount(), std::int64_t(190976));

        // The serialised form parses back to the same config.
        const PhiConfig again = PhiConfig::fromJsonText(v5.toJsonText(), "x");
        QCOMPARE(again.parameterCount(), v5.parameterCount());
        QCOMPARE(again.partialRotaryFactor, v5.partialRotaryFactor);
    }

    void badConfigs_data() {
        QTest::addColumn<QString>("json");
        QTest::addColumn<QString>("expected");
        QTest::newRow("missing key") << R"({"model_type":"phi","hidden_size":64,"intermediate_size":256,"num_attention_heads":4,"vocab_size":320})"
                                     << "missing required key 'num_hidden_layers'";
        QTest::newRow("another architecture") << R"({"model_type":"llama","architectures":["LlamaForCausalLM"],"hidden_size":64})"
                                              << "unsupported architecture";
        QTest::newRow("not json") << "{hidden_size: 3" << "not valid JSON";
        QTest::newRow("wrong type") << R"({"model_type":"phi","hidden_size":"64","intermediate_size":256,"num_attention_heads":4,"num_hidden_layers":2,"vocab_size":320})"
                                    << "'hidden_size' must be an integer";
        QTest::newRow("heads do not divide") << R"({"model_type":"phi","hidden_size":66,"intermediate_size":256,"num_attention_heads":4,"num_hidden_layers":2,"vocab_size":320})"
                                             << "not divisible";
        QTest::newRow("rope factor out of range") << R"({"model_type":"phi","hidden_size":64,"intermediate_size":256,"num_attention_heads":4,"num_hidden_layers":2,"vocab_size":320,"rope_parameters":{"partial_rotary_factor":1.5}})"
                                                  << "outside (0, 1]";
    }
    void badConfigs() {
        QFETCH(QString, json);
        QFETCH(QString, expected);
        const QString err = errorOf([&] { PhiConfig::fromJsonText(json.toStdString(), "/m/config.json"); });
        QVERIFY2(err.contains(expected), qPrintable(err));
        QVERIFY2(err.startsWith("/m/config.json"), qPrintable(err));
    }

    void checkpointDirectories() {
        QTemporaryDir tmp;
        const fs::path root(tmp.path().toStdString());
        // Missing directory, a file instead of a directory, no weights, pickle refused.
        QVERIFY(errorOf([&] { Checkpoint::open((root / "nope").string()); }).contains("model directory not found"));
        const std::string tinyConfig = readTextFile(fixture("tiny-phi/config.json"));
        copyTinyConfig(root / "empty", tinyConfig);
        QVERIFY(errorOf([&] { Checkpoint::open((root / "empty").string()); }).contains("no model.safetensors"));
        copyTinyConfig(root / "pickle", tinyConfig);
        // A pickle that would run code if unpickled: it must be refused by name, never opened.
        writeBytes((root / "pickle" / "pytorch_model.bin").string(), "\x80\x02cos\nsystem\n(S'echo pwned'\ntR.");
        const QString perr = errorOf([&] { Checkpoint::open((root / "pickle").string()); });
        QVERIFY2(perr.contains("pytorch_model.bin") && perr.contains("never unpickled"), qPrintable(perr));

        // The real fixture: inventory matches the known shape.
        const ModelSummary s = inspectModel(fixture("tiny-phi"));
        QCOMPARE(s.params, std::int64_t(190976));
        QCOMPARE(s.numLayers, 3);
        QCOMPARE(s.layers.size(), std::size_t(47));
        QCOMPARE(s.layers.front().kind, std::string("embedding"));
        QCOMPARE(s.layers.back().kind, std::string("lm_head"));
        int compressible = 0;
        for (const auto& l : s.layers) compressible += l.compressible;
        QCOMPARE(compressible, 3 * 6 + 2);
        QCOMPARE(s.dtype, std::string("F32"));
    }

    void shardedIndexValidation() {
        QTemporaryDir tmp;
        const fs::path dir(tmp.path().toStdString());
        std::ofstream(dir / "config.json") << readTextFile(fixture("tiny-phi/config.json"));
        std::ofstream(dir / "model.safetensors.index.json") << R"({"weight_map":{"a":"../../etc/passwd"}})";
        QString err = errorOf([&] { Checkpoint::open(dir.string()); });
        QVERIFY2(err.contains("plain file name"), qPrintable(err));
        std::ofstream(dir / "model.safetensors.index.json", std::ios::trunc) << R"({"weight_map":{"a":"model-00001-of-00002.safetensors"}})";
        err = errorOf([&] { Checkpoint::open(dir.string()); });
        QVERIFY2(err.contains("missing"), qPrintable(err));
    }

    void atomicWriteLeavesNothingOnFailure() {
        QTemporaryDir tmp;
        const std::string path = tmp.filePath("out.txt").toStdString();
        writeTextFileAtomically(path, "first");
        const QString err = errorOf([&] {
            writeFileAtomically(path, [](std::ostream& o) {
                o << "partial";
                fail("writer", "simulated failure");
            });
        });
        QVERIFY(err.contains("simulated failure"));
        QCOMPARE(readTextFile(path), std::string("first"));
        QCOMPARE(std::distance(fs::directory_iterator(tmp.path().toStdString()), fs::directory_iterator()), 1L);
    }
};

QTEST_APPLESS_MAIN(TestIo)
#include "test_io.moc"
