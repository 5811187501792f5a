// PhiForCausalLM against transformers' own outputs (tests/data/tiny-phi/reference.safetensors,
// computed by transformers 5.17), plus the invariants of the KV cache, batching and loading.
#include "common/error.h"
#include "common/files.h"
#include "io/arch.h"
#include "io/checkpoint.h"
#include "io/inventory.h"
#include "model/engine.h"
#include "model/generate.h"
#include "model/loader.h"
#include "model/phi_model.h"
#include "model/snapshot.h"
#include "model/synthetic.h"

#include <QTemporaryDir>
#include <QtTest>

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using namespace qcw;

namespace {

const std::string kTiny = std::string(QCW_TEST_DATA) + "/tiny-phi";

at::Tensor refTensor(const char* name) {
    static auto ref = SafetensorsFile::open(kTiny + "/reference.safetensors");
    const TensorView* v = ref->find(name);
    if (!v) throw std::runtime_error(std::string("reference lacks ") + name);
    return tensorFromView(*v, v->dtype == DType::I64 ? at::kLong : at::kFloat, at::kCPU);
}

double maxDiff(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

PhiModel loadDir(const std::string& dir) { return loadPhiModel(Checkpoint::open(dir)); }

// Writes the fixture's weights again in `dtype`, with the config in the legacy key style.
void rewriteFixture(const fs::path& out, DType dtype, bool roundThroughHalfOnly = false) {
    fs::create_directories(out);
    Checkpoint src = Checkpoint::open(kTiny);
    std::vector<at::Tensor> keep;
    std::vector<TensorToWrite> entries;
    for (const TensorView* v : src.tensors()) {
        at::Tensor t = tensorFromView(*v, at::kFloat, at::kCPU);
        if (roundThroughHalfOnly) t = t.to(at::kHalf).to(at::kFloat);
        else t = t.to(toScalarType(dtype));
        keep.push_back(t.contiguous());
        entries.push_back({v->name, roundThroughHalfOnly ? DType::F32 : dtype, v->shape, keep.back().data_ptr(), {}});
    }
    writeSafetensors((out / "model.safetensors").string(), entries);
    std::ofstream(out / "config.json") << src.config().toJsonText();  // legacy style: top-level rope keys
}

}  // namespace

class TestModel : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { at::set_num_threads(2); }

    void logitsAndHiddenStatesMatchTransformers() {
        c10::InferenceMode guard;
        PhiModel m = loadDir(kTiny);
        ForwardArgs a;
        a.inputIds = refTensor("input_ids");
        a.attentionMask = refTensor("attention_mask");
        std::vector<at::Tensor> hidden;
        a.hiddenStates = &hidden;
        at::Tensor logits = m.forward(a);
        QCOMPARE(logits.sizes().vec(), (std::vector<std::int64_t>{2, 24, 320}));
        const double dl = maxDiff(logits, refTensor("logits"));
        QVERIFY2(dl <= 1e-4, qPrintable(QString("logits max |diff| %1").arg(dl)));
        QCOMPARE(hidden.size(), std::size_t(4));
        for (int i = 0; i < 4; ++i) {
            const std::string name = "hidden_state_" + std::to_string(i);
            const double d = maxDiff(hidden[static_cast<std::size_t>(i)], refTensor(name.c_str()));
            QVERIFY2(d <= 1e-4, qPrintable(QString("%1 max |diff| %2").arg(name.c_str()).arg(d)));
        }
        // Row 0 alone, without a mask, matches too.
        ForwardArgs one;
        one.inputIds = refTensor("input_ids").narrow(0, 0, 1);
        QVERIFY(maxDiff(m.forward(one), refTensor("logits_row0_unpadded")) <= 1e-4);
    }

    void greedyContinuationIsIdentical() {
        PhiModel m = loadDir(kTiny);
        at::Tensor prompt = refTensor("greedy_prompt");
        at::Tensor expected = refTensor("greedy_ids");
        std::vector<std::int64_t> p(prompt.data_ptr<std::int64_t>(), prompt.data_ptr<std::int64_t>() + prompt.numel());
        std::vector<std::int64_t> e(expected.data_ptr<std::int64_t>(), expected.data_ptr<std::int64_t>() + expected.numel());
        GenerateOptions g;
        g.maxNewTokens = static_cast<int>(e.size() - p.size());
        auto out = generate(m, {p}, g);
        QCOMPARE(out[0], e);
    }

    void fp16OnDiskAndLegacyConfig() {
        c10::InferenceMode guard;
        QTemporaryDir tmp;
        const fs::path half = fs::path(tmp.path().toStdString()) / "half";
        const fs::path rounded = fs::path(tmp.path().toStdString()) / "rounded";
        const fs::path legacy = fs::path(tmp.path().toStdString()) / "legacy";
        rewriteFixture(half, DType::F16);
        rewriteFixture(rounded, DType::F32, /*roundThroughHalfOnly=*/true);
        rewriteFixture(legacy, DType::F32);
        QVERIFY(readTextFile((legacy / "config.json").string()).find("rope_parameters") == std::string::npos);
        ForwardArgs a;
        a.inputIds = refTensor("input_ids");
        a.attentionMask = refTensor("attention_mask");
        // Legacy key style, same fp32 weights: the reference within 1e-4.
        QVERIFY(maxDiff(loadDir(legacy.string()).forward(a), refTensor("logits")) <= 1e-4);
        // fp16 on disk computes exactly what fp32 weights rounded to fp16 compute ...
        at::Tensor fromHalf = loadDir(half.string()).forward(a);
        QCOMPARE(maxDiff(fromHalf, loadDir(rounded.string()).forward(a)), 0.0);
        // ... and stays close to the fp32 reference (the rounding of the weights is all that differs).
        const double d = maxDiff(fromHalf, refTensor("logits"));
        QVERIFY2(d <= 5e-3, qPrintable(QString("fp16 weights vs reference: %1").arg(d)));
        QCOMPARE(Checkpoint::open(half.string()).find("lm_head.weight")->dtype, DType::F16);
    }

    void kvCacheMatchesFullForward() {
        c10::InferenceMode guard;
        PhiModel m = loadDir(kTiny);
        at::Tensor ids = refTensor("input_ids");
        at::Tensor mask = refTensor("attention_mask");
        at::Tensor full = m.forward(ForwardArgs{ids, mask, {}, nullptr, nullptr, false});
        KVCache cache;
        std::vector<at::Tensor> steps;
        for (int split : {10, 5, 9}) {
            const std::int64_t start = cache.length();
            ForwardArgs a;
            a.inputIds = ids.narrow(1, start, split);
            a.attentionMask = mask.narrow(1, 0, start + split);
            a.cache = &cache;
            steps.push_back(m.forward(a));
        }
        const double d = maxDiff(at::cat(steps, 1), full);
        QVERIFY2(d <= 1e-4, qPrintable(QString("cached vs full: %1").arg(d)));
    }

    // The decode path of generation: a static cache written at a device-side slot, the mask and
    // positions kept in buffers. Each step's logits must equal the full forward's at that
    // position, also for a left-padded row.
    void staticCacheDecodeStepMatchesFullForward() {
        c10::InferenceMode guard;
        PhiModel m = loadDir(kTiny);
        const std::int64_t B = 2, T = 6, N = 5, cap = T + N;
        at::Tensor ids = at::randint(0, m.config.vocabSize, {B, T + N}, at::TensorOptions().dtype(at::kLong));
        at::Tensor mask = at::ones({B, T + N}, at::kLong);
        mask.index_put_({1, at::indexing::Slice(0, 2)}, 0);  // row 1: two left-padding positions
        at::Tensor pos = (mask.cumsum(1) - 1).clamp_min(0);
        ForwardArgs full;
        full.inputIds = ids;
        full.attentionMask = mask;
        full.positionIds = pos;
        at::Tensor want = m.forward(full);  // [B, T + N, V]

        KVCache grow;
        ForwardArgs pre;
        pre.inputIds = ids.narrow(1, 0, T);
        pre.attentionMask = mask.narrow(1, 0, T);
        pre.positionIds = pos.narrow(1, 0, T);
        pre.cache = &grow;
        m.forward(pre);
        KVCache cache = staticCacheFrom(grow, cap);
        QCOMPARE(cache.filled, T);
        at::Tensor maskBuf = at::full({B, 1, 1, cap}, m.maskValue(), at::kFloat);
        maskBuf.narrow(3, 0, T).masked_fill_(mask.narrow(1, 0, T).ne(0).view({B, 1, 1, T}), 0.0);
        double worst = 0;
        for (std::int64_t k = 0; k < N; ++k) {
            maskBuf.index_fill_(3, cache.slot, 0.0);
            at::Tensor got = m.decodeStep(ids.narrow(1, T + k, 1), pos.narrow(1, T + k, 1), maskBuf, cache);
            cache.slot.add_(1);
            worst = std::max(worst, maxDiff(got.select(1, 0), want.select(1, T + k)));
        }
        QVERIFY2(worst <= 1e-4, qPrintable(QString("static decode vs full forward: %1").arg(worst)));
        // A step that ignored the cache would be far off: the check can fail.
        QVERIFY(maxDiff(want.select(1, T), want.select(1, T + 1)) > 1e-2);
    }

    void batchedLeftPaddedGenerationEqualsSingleRows() {
        PhiModel m = loadDir(kTiny);
        std::vector<std::int64_t> a = {73, 5, 38, 193, 231, 87, 247, 157, 82, 47};
        std::vector<std::int64_t> b = {11, 42, 300};
        GenerateOptions g;
        g.maxNewTokens = 8;
        g.stopAtEos = false;
        auto both = generate(m, {a, b}, g);
        QCOMPARE(both[0], generate(m, {a}, g)[0]);
        QCOMPARE(both[1], generate(m, {b}, g)[0]);
        // Sampling is reproducible with a seed and differs across seeds.
        g.greedy = false;
        g.temperature = 1.5;
        g.seed = 7;
        auto s1 = generate(m, {a}, g)[0];
        QCOMPARE(generate(m, {a}, g)[0], s1);
        bool differs = false;
        for (std::uint64_t seed = 8; seed < 12 && !differs; ++seed) {
            g.seed = seed;
            differs = generate(m, {a}, g)[0] != s1;
        }
        QVERIFY(differs);
    }

    void samplingFilters() {
        std::vector<float> logits = {0.f, 5.f, 4.9f, -3.f};
        std::uint64_t rng = 1;
        GenerateOptions g;
        QCOMPARE(pickToken(logits, g, rng), std::int64_t(1));
        g.sampling(1.0, /*topK=*/2);
        for (int i = 0; i < 200; ++i) {
            auto t = pickToken(logits, g, rng);
            QVERIFY(t == 1 || t == 2);
        }
        g.sampling(1.0, 0, /*topP=*/0.4);  // token 1 alone holds > 0.4 of the mass
        for (int i = 0; i < 50; ++i) QCOMPARE(pickToken(logits, g, rng), std::int64_t(1));
    }

    void shardedSyntheticEqualsSingleFile() {
        c10::InferenceMode guard;
        QTemporaryDir tmp;
        const std::string one = tmp.filePath("one").toStdString(), many = tmp.filePath("many").toStdString();
        const PhiConfig c = namedPhiShape("tiny");
        writeSyntheticPhi(one, c, SyntheticOptions().withDtype(DType::F16).withSeed(3));
        writeSyntheticPhi(many, c, SyntheticOptions().withDtype(DType::F16).withSeed(3).shardBytes(60000));
        QVERIFY(fs::exists(fs::path(many) / "model.safetensors.index.json"));
        QVERIFY(Checkpoint::open(many).files().size() >= 3);
        PhiModel a = loadDir(one), b = loadDir(many);
        QCOMPARE(a.parameterCount(), c.parameterCount());
        ForwardArgs f;
        f.inputIds = refTensor("input_ids");
        QCOMPARE(maxDiff(a.forward(f), b.forward(f)), 0.0);
        // An existing output directory is not overwritten.
        bool threw = false;
        try {
            writeSyntheticPhi(one, c, SyntheticOptions());
        } catch (const Error& e) {
            threw = QString(e.what()).contains("not empty");
        }
        QVERIFY(threw);
    }

    // The architecture table (io/arch.h) is the one set of names: the synthetic writer writes
    // exactly its tensors, the inventory of a transformers-made checkpoint (tiny-phi) lists
    // exactly them with the table's kinds, the loader reads them into the model's names, and
    // a saved snapshot writes them again.
    void architectureTableIsTheNamesEveryoneUses() {
        c10::InferenceMode guard;
        const Architecture& arch = phiArchitecture();
        auto namesOf = [](const std::vector<ExpectedTensor>& e) {
            std::vector<std::string> n;
            for (const auto& t : e) n.push_back(t.name);
            return n;
        };
        auto sorted = [](std::vector<std::string> v) {
            std::sort(v.begin(), v.end());
            return v;
        };
        auto checkpointNames = [](const Checkpoint& ckpt) {
            std::vector<std::string> n;
            for (const TensorView* t : ckpt.tensors()) n.push_back(t->name);
            return n;
        };

        // tiny-phi was written by transformers: the table's names are the real ones.
        const Checkpoint tiny = Checkpoint::open(kTiny);
        const auto tinyExpected = expectedTensors(arch, tiny.config());
        QCOMPARE(tinyExpected.size(), std::size_t(1 + 3 * 14 + 2 + 2));
        QCOMPARE(sorted(checkpointNames(tiny)), sorted(namesOf(tinyExpected)));
        for (const auto& e : tinyExpected) QCOMPARE(tiny.find(e.name)->shape, e.shape);
        const ModelSummary summary = summarize(tiny);
        std::vector<std::string> inventoried;
        for (const LayerInfo& l : summary.layers) inventoried.push_back(l.name);
        QCOMPARE(sorted(inventoried), sorted(namesOf(tinyExpected)));
        for (const auto& e : tinyExpected) {
            int block = -2;
            const std::string kind = layerKind(e.name, &block);
            const ArchTensor& t = arch.at(e.id);
            const bool linearBias = e.bias && t.role != ArchTensor::Role::Norm;
            QCOMPARE(kind, std::string(linearBias ? "bias" : t.kind));
            QCOMPARE(block, e.block);
        }

        // The model's linear maps are the table's, block by block, then lm_head.
        PhiModel tinyModel = loadPhiModel(tiny);
        std::vector<std::string> linears;
        for (const auto& [name, slot] : tinyModel.linearOps()) linears.push_back(name);
        std::vector<std::string> want;
        for (int b = 0; b < tiny.config().numLayers; ++b)
            for (TensorId id : arch.blockLinears()) want.push_back(arch.name(id, b));
        want.push_back(arch.name(TensorId::Output));
        QCOMPARE(linears, want);
        QCOMPARE(arch.blockLinears().size(), std::size_t(6));
        for (const auto& [name, slot] : tinyModel.linearOps()) {
            const auto [out, in] = linearShape(tiny.config(), name);
            QCOMPARE((*slot)->outFeatures(), out);
            QCOMPARE((*slot)->inFeatures(), in);
        }

        // Both optional parts of the table: qk_layernorm and a tied lm_head.
        PhiConfig c = namedPhiShape("tiny");
        c.qkLayerNorm = true;
        c.tieWordEmbeddings = true;
        QTemporaryDir tmp;
        const std::string synth = tmp.filePath("synth").toStdString();
        writeSyntheticPhi(synth, c, SyntheticOptions().withDtype(DType::F32).withSeed(5));
        const auto expected = expectedTensors(arch, c);
        const Checkpoint written = Checkpoint::open(synth);
        QCOMPARE(checkpointNames(written).size(), expected.size());
        QCOMPARE(sorted(checkpointNames(written)), sorted(namesOf(expected)));
        QVERIFY(written.find(arch.name(TensorId::AttnQNorm, 2) + kWeightSuffix) != nullptr);
        QVERIFY(written.find(arch.name(TensorId::Output) + kWeightSuffix) == nullptr);
        QVERIFY(written.find(arch.name(TensorId::Output) + kBiasSuffix) != nullptr);
        for (const auto& e : expected) QCOMPARE(written.find(e.name)->shape, e.shape);

        // Loaded and saved again: the same names (each tensor once; the tied lm_head shares the
        // embedding), and the same values.
        PhiModel m = loadPhiModel(written);
        std::vector<std::string> params;
        for (const auto& [name, t] : m.parameters()) params.push_back(name);
        QCOMPARE(sorted(params), sorted(namesOf(expected)));
        const std::string saved = tmp.filePath("saved").toStdString();
        fs::create_directories(saved);
        writeModelSnapshot(m, saved);
        const Checkpoint again = Checkpoint::open(saved);
        QCOMPARE(sorted(checkpointNames(again)), sorted(checkpointNames(written)));
        for (const auto& e : expected)
            QCOMPARE(maxDiff(tensorFromView(*again.find(e.name), at::kFloat, at::kCPU),
                             tensorFromView(*written.find(e.name), at::kFloat, at::kCPU)),
                     0.0);

        // Names outside the table are not matched.
        for (const char* bad : {"model.layers.x.mlp.fc1", "model.layers.1.mlp.fc3", "model.layers..mlp.fc1",
                                "model.layers.1234567890.mlp.fc1", "lm_head.weight", "model.layers.1"})
            QVERIFY2(arch.match(bad) == nullptr, bad);
        int block = -1;
        QVERIFY(arch.match("model.layers.12.self_attn.dense", &block) == &arch.at(TensorId::AttnOut));
        QCOMPARE(block, 12);
        QCOMPARE(arch.gguf(TensorId::FfnDown, 4), std::string("blk.4.ffn_down"));
        QCOMPARE(arch.local(TensorId::AttnQ), std::string("self_attn.q_proj"));
    }

    void loaderErrorsNameTheTensor() {
        QTemporaryDir tmp;
        const fs::path dir(tmp.path().toStdString());
        // A config whose shape disagrees with the weights.
        std::string cfg = readTextFile(kTiny + "/config.json");
        cfg.replace(cfg.find("\"intermediate_size\": 256"), 24, "\"intermediate_size\": 128");
        std::ofstream(dir / "config.json") << cfg;
        fs::copy_file(kTiny + "/model.safetensors", dir / "model.safetensors");
        try {
            loadDir(dir.string());
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("model.layers.0.mlp.fc1.weight") &&
                         QString(e.what()).contains("[256, 64]"),
                     e.what());
        }
        PhiModel m = loadDir(kTiny);
        ForwardArgs a;
        a.inputIds = at::full({1, 2}, 999, at::kLong);
        try {
            m.forward(a);
            QFAIL("expected an error");
        } catch (const Error& e) {
            QVERIFY2(QString(e.what()).contains("token id 999"), e.what());
        }
    }

    void engineFacade() {
        auto e = Engine::load(kTiny);
        QCOMPARE(e->parameterCount(), std::int64_t(190976));
        at::Tensor ids = refTensor("input_ids");
        std::vector<std::int64_t> v(ids.data_ptr<std::int64_t>(), ids.data_ptr<std::int64_t>() + ids.numel());
        at::Tensor mask = refTensor("attention_mask");
        std::vector<std::int64_t> mv(mask.data_ptr<std::int64_t>(), mask.data_ptr<std::int64_t>() + mask.numel());
        auto r = e->forward(v, mv, 2, 24);
        at::Tensor got = at::from_blob(r.logits.data.data(), r.logits.shape, at::kFloat);
        QVERIFY(maxDiff(got, refTensor("logits")) <= 1e-4);
        QVERIFY(peakRssBytes() > 0);
    }
};

QTEST_APPLESS_MAIN(TestModel)
#include "test_model.moc"
