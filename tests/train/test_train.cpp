// Training against known answers: AdamW's first step by hand and convergence on a quadratic;
// memorising a repeated sequence; a resumed run equal to an uninterrupted one (in process and
// after kill -9 of qcompress); LoRA merged equal to the adapter; distillation from itself is 0.
#include "common/error.h"
#include "decompose/compress_api.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/factorized.h"
#include "model/loader.h"
#include "train/train.h"
#include "train/train_api.h"

#include <ATen/Parallel.h>
#include <ATen/core/grad_mode.h>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <functional>
#include <random>

using namespace qcw;
namespace fs = std::filesystem;

namespace {
const std::string kTiny = std::string(QCW_TEST_DATA) + "/tiny-phi";

PhiModel loadTiny() { return loadPhiModel(Checkpoint::open(kTiny), LoadOptions().withDtype("float32")); }

std::vector<std::vector<std::int64_t>> randomWindows(int n, int len, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::vector<std::int64_t>> w(static_cast<std::size_t>(n));
    for (auto& row : w)
        for (int i = 0; i < len; ++i) row.push_back(static_cast<std::int64_t>(rng() % 320));
    return w;
}

bool throwsError(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error&) {
        return true;
    }
    return false;
}

double maxDiff(const at::Tensor& a, const at::Tensor& b) { return (a.detach() - b.detach()).abs().max().item<double>(); }

at::Tensor logitsOf(const PhiModel& m, const std::vector<std::int64_t>& ids) {
    at::NoGradGuard g;
    ForwardArgs a;
    a.inputIds = at::tensor(ids, at::kLong).unsqueeze(0);
    return m.forward(a);
}
}  // namespace

class TestTrain : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { at::set_num_threads(2); }

    void adamwFirstStepByHandAndConvergesOnQuadratic() {
        const double lr = 0.1, wd = 0.5, b1 = 0.9, b2 = 0.99, eps = 1e-8;
        at::Tensor x = at::tensor({1.0f, -2.0f, 3.0f}).view({1, 3}).requires_grad_(true);  // 2-D: decayed
        at::Tensor bias = at::tensor({0.5f}).requires_grad_(true);                          // 1-D: not decayed
        const at::Tensor c = at::tensor({0.25f, 1.0f, -1.0f}).view({1, 3});
        AdamW opt({{"x", &x}, {"bias", &bias}}, AdamWOptions().withBetas(b1, b2).withEps(eps).withWeightDecay(wd));
        auto lossOf = [&] { return (x - c).pow(2).sum() + bias.pow(2).sum() * 3.0; };
        lossOf().backward();
        // First step: m = (1-b1) g, v = (1-b2) g^2; bias-corrected they are g and g^2.
        const double x0[] = {1.0, -2.0, 3.0}, c0[] = {0.25, 1.0, -1.0};
        opt.step(lr);
        for (int i = 0; i < 3; ++i) {
            const double g = 2.0 * (x0[i] - c0[i]);
            const double expect = x0[i] * (1.0 - lr * wd) - lr * g / (std::sqrt(g * g) + eps);
            QVERIFY2(std::fabs(x[0][i].item<double>() - expect) < 1e-6, qPrintable(QString::number(x[0][i].item<double>())));
        }
        QVERIFY(std::fabs(bias.item<double>() - (0.5 - lr)) < 1e-6);  // g = 3, no decay on 1-D
        // Clipping measures the global norm and scales to the limit.
        opt.zeroGrad();
        lossOf().backward();
        const double g0 = std::sqrt((x.grad().pow(2).sum() + bias.grad().pow(2).sum()).item<double>());
        QVERIFY(std::fabs(opt.clipGradNorm(0.5) - g0) < 1e-5);
        QVERIFY(std::fabs(std::sqrt((x.grad().pow(2).sum() + bias.grad().pow(2).sum()).item<double>()) - 0.5) < 1e-4);
        // Without decay it converges to the minimum.
        at::Tensor y = at::zeros({1, 3}).requires_grad_(true);
        AdamW opt2({{"y", &y}}, AdamWOptions().withWeightDecay(0.0));
        for (int s = 0; s < 400; ++s) {
            opt2.zeroGrad();
            (y - c).pow(2).sum().backward();
            opt2.step(warmupCosineLr(s, 400, 10, 0.05, 0.0));
        }
        QVERIFY2(maxDiff(y, c) < 1e-3, qPrintable(QString::number(maxDiff(y, c))));
        QCOMPARE(opt2.steps(), std::int64_t(400));
    }

    void learningRateSchedule() {
        QCOMPARE(warmupCosineLr(0, 10, 4, 1.0, 0.0), 0.25);
        QCOMPARE(warmupCosineLr(3, 10, 4, 1.0, 0.0), 1.0);
        QCOMPARE(warmupCosineLr(4, 10, 4, 1.0, 0.0), 1.0);
        QVERIFY(std::fabs(warmupCosineLr(7, 10, 4, 1.0, 0.1) - 0.55) < 1e-12);  // halfway down the cosine
        QVERIFY(std::fabs(warmupCosineLr(10, 10, 4, 1.0, 0.1) - 0.1) < 1e-12);
    }

    void memorisesARepeatedSequence() {
        PhiModel m = loadTiny();
        auto pattern = randomWindows(1, 24, 7)[0];
        std::vector<std::vector<std::int64_t>> windows(8, pattern);
        Trainer t(m, windows, TrainOptions().withSteps(40).withBatch(2).withLr(3e-3).withWarmup(3).withSeed(1));
        auto r = t.run();
        QCOMPARE(r.losses.size(), std::size_t(40));
        const double first = r.losses.front(), last = r.losses.back();
        qInfo("memorisation: loss %.4f -> %.4f, %.0f tokens/s", first, last, r.tokensPerSecond);
        QVERIFY2(first > 4.0 && last < 0.1 * first, qPrintable(QString("%1 -> %2").arg(first).arg(last)));
    }

    void resumedRunEqualsUninterrupted() {
        QTemporaryDir tmp;
        auto windows = randomWindows(10, 16, 3);
        auto evalW = randomWindows(3, 16, 4);
        const TrainOptions o = TrainOptions().withSteps(12).withBatch(2).withAccum(2).withLr(2e-3).withWarmup(2)
                                   .withSeed(5).withEval(3).withSaveEvery(4);
        PhiModel a = loadTiny();
        Trainer ta(a, windows, o);
        ta.setEvalWindows(evalW);
        TrainResult ra = ta.run();
        QCOMPARE(ra.losses.size(), std::size_t(12));

        const std::string dir = tmp.filePath("ckpt").toStdString();
        {
            PhiModel b = loadTiny();
            Trainer tb(b, windows, o);
            tb.setEvalWindows(evalW);
            tb.setCheckpointDir(dir);
            RunContext ctx;
            ctx.setCallback([&ctx](const Progress& p) {
                if (p.stage == "train" && p.step == 6) ctx.cancel();
            });
            TrainResult rb = tb.run(ctx);
            QVERIFY(rb.cancelled);
            QCOMPARE(rb.step, std::int64_t(6));
            QVERIFY(rb.lastCheckpoint.find("step-00000006") != std::string::npos);
            for (int i = 0; i < 6; ++i) QVERIFY(std::fabs(rb.losses[std::size_t(i)] - ra.losses[std::size_t(i)]) < 1e-6);
        }
        QCOMPARE(latestCheckpoint(dir), (fs::path(dir) / "step-00000006").string());
        QVERIFY(fs::exists(fs::path(dir) / "step-00000004"));  // saveEvery 4

        PhiModel c = loadTiny();
        Trainer tc(c, windows, o);
        tc.setEvalWindows(evalW);
        tc.setCheckpointDir(dir);
        QVERIFY(tc.resume());
        QCOMPARE(tc.step(), std::int64_t(6));
        TrainResult rc = tc.run();
        QCOMPARE(rc.losses.size(), std::size_t(6));
        for (int i = 0; i < 6; ++i) {
            const double d = std::fabs(rc.losses[std::size_t(i)] - ra.losses[std::size_t(i + 6)]);
            QVERIFY2(d < 1e-6, qPrintable(QString("step %1: %2 vs %3").arg(i + 7).arg(rc.losses[std::size_t(i)]).arg(ra.losses[std::size_t(i + 6)])));
        }
        QVERIFY(std::fabs(rc.bestEvalLoss - ra.bestEvalLoss) < 1e-6);
        auto pa = a.parameters(), pc = c.parameters();
        QCOMPARE(pa.size(), pc.size());
        double worst = 0.0;
        for (std::size_t i = 0; i < pa.size(); ++i) {
            QCOMPARE(pa[i].first, pc[i].first);
            worst = std::max(worst, maxDiff(*pa[i].second, *pc[i].second));
        }
        QVERIFY2(worst < 1e-5, qPrintable(QString::number(worst)));
        // keepCheckpoints = 2: only the newest two remain (8 was written at 8, the end at 12).
        QCOMPARE(latestCheckpoint(dir), (fs::path(dir) / "step-00000012").string());
        QVERIFY(!fs::exists(fs::path(dir) / "step-00000004"));
    }

    void killedCliRunResumesToTheSameLoss() {
        const QString bin = QString(QCW_BIN_DIR) + "/qcompress";
        if (!QFileInfo::exists(bin)) QSKIP("qcompress is not built");
        QTemporaryDir tmp;
        const std::string data = tmp.filePath("data").toStdString();
        fs::create_directories(data);
        auto rows = randomWindows(24, 48, 11);
        std::vector<std::int64_t> flat;
        for (auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
        writeSafetensors(data + "/ids.safetensors", {{"input_ids", DType::I64, {24, 48}, flat.data(), {}}});
        auto args = [&](const QString& out) {
            return QStringList{"train", "--student", QString::fromStdString(kTiny), "--out", out, "--data",
                               QString::fromStdString(data), "--batch", "4", "--eval-every", "10", "--lr", "1e-3",
                               "--threads", "2", "--json"};  // default --steps (100) and checkpointing
        };
        auto finalLoss = [](QProcess& p) {
            const auto j = QJsonDocument::fromJson(p.readAllStandardOutput()).object();
            return j.value("final_loss").toDouble(-1.0);
        };
        QProcess whole;
        whole.start(bin, args(tmp.filePath("whole")));
        QVERIFY(whole.waitForFinished(120000));
        QVERIFY2(whole.exitCode() == 0, whole.readAllStandardError().constData());
        const double expect = finalLoss(whole);
        QVERIFY(expect > 0);
        QVERIFY(fs::exists(tmp.filePath("whole/model/model.safetensors").toStdString()));

        const QString out = tmp.filePath("killed");
        QProcess killed;
        killed.start(bin, args(out));
        QVERIFY(killed.waitForStarted());
        const std::string ckpts = (out + "/checkpoints").toStdString();
        QElapsedTimer timer;
        timer.start();
        while (latestCheckpoint(ckpts).empty() && timer.elapsed() < 60000 && killed.state() != QProcess::NotRunning)
            QThread::msleep(2);
        QVERIFY2(killed.state() != QProcess::NotRunning, "the run finished before it could be killed");
        killed.kill();  // SIGKILL
        QVERIFY(killed.waitForFinished(10000));
        // The first periodic checkpoint of the default settings: a tenth of the 100 steps.
        QCOMPARE(fs::path(latestCheckpoint(ckpts)).filename().string(), std::string("step-00000010"));
        QVERIFY(!fs::exists((out + "/model").toStdString()));
        QProcess resumed;
        auto a = args(out);
        a << "--resume";
        resumed.start(bin, a);
        QVERIFY(resumed.waitForFinished(120000));
        QVERIFY2(resumed.exitCode() == 0, resumed.readAllStandardError().constData());
        const double got = finalLoss(resumed);
        QVERIFY2(std::fabs(got - expect) < 1e-5, qPrintable(QString("%1 vs %2").arg(got).arg(expect)));
        // Periodic checkpoints every 10 steps, the newest 3 kept (80, 90 and the end).
        QCOMPARE(fs::path(latestCheckpoint(ckpts)).filename().string(), std::string("step-00000100"));
        QVERIFY(fs::exists(ckpts + "/step-00000080") && !fs::exists(ckpts + "/step-00000070"));

        // Resuming a finished run says so, with the last loss, and trains nothing.
        QProcess again;
        auto b = args(tmp.filePath("whole"));
        b << "--resume";
        again.start(bin, b);
        QVERIFY(again.waitForFinished(60000));
        QVERIFY2(again.exitCode() == 0, again.readAllStandardError().constData());
        const auto j = QJsonDocument::fromJson(again.readAllStandardOutput()).object();
        QVERIFY(j.value("already_finished").toBool());
        QCOMPARE(j.value("steps_run").toInt(), 0);
        QVERIFY(std::fabs(j.value("final_loss").toDouble(-1) - expect) < 1e-12);
        QProcess plain;
        b.removeAll("--json");
        plain.start(bin, b);
        QVERIFY(plain.waitForFinished(60000));
        const QByteArray said = plain.readAllStandardOutput();
        QVERIFY2(plain.exitCode() == 0 && said.contains("already finished at step 100 of 100") && !said.contains("nan"),
                 said.constData());
    }

    void loraMergeEqualsAdapter() {
        PhiModel m = loadTiny();
        {
            // layer 0 q_proj becomes a rank-12 LowRankLinear by SVD.
            at::NoGradGuard g;
            auto& slot = m.blocks[0].q;
            at::Tensor w = slot->denseWeight();
            auto [u, s, vh] = at::linalg_svd(w, false);
            const int r = 12;
            slot = std::make_shared<LowRankLinear>(u.narrow(1, 0, r) * s.narrow(0, 0, r), vh.narrow(0, 0, r).clone(), slot->bias());
        }
        auto names = applyLora(m, LoraOptions().withRank(4).withAlpha(8).withTargets({"layers.0.self_attn.q_proj", "layers.1.mlp.fc1"}));
        QCOMPARE(names.size(), std::size_t(2));
        const at::Tensor baseRight = dynamic_cast<LowRankLinear&>(*dynamic_cast<LoraLinear&>(*m.blocks[0].q).base()).right().clone();
        Trainer t(m, randomWindows(6, 16, 9), TrainOptions().withSteps(5).withBatch(2).withLr(1e-2));
        t.run();
        auto& lq = dynamic_cast<LoraLinear&>(*m.blocks[0].q);
        QVERIFY(lq.b().abs().max().item<double>() > 0);  // the adapter learned something
        QCOMPARE(maxDiff(dynamic_cast<LowRankLinear&>(*lq.base()).right(), baseRight), 0.0);  // base frozen
        auto ids = randomWindows(1, 20, 10)[0];
        at::Tensor before = logitsOf(m, ids);
        QCOMPARE(mergeLora(m), 2);
        QVERIFY(!hasLora(m));
        auto* lr = dynamic_cast<LowRankLinear*>(m.blocks[0].q.get());
        QVERIFY(lr && lr->rank() == 16);  // 12 + 4: still factorized
        QVERIFY(dynamic_cast<DenseLinear*>(m.blocks[1].fc1.get()));
        at::Tensor after = logitsOf(m, ids);
        QVERIFY2(maxDiff(before, after) < 1e-5, qPrintable(QString::number(maxDiff(before, after))));

        // Tucker (bases shared, exact) and TT fall back to low-rank / dense equivalents.
        at::NoGradGuard g;
        at::Tensor w = at::randn({8, 6}), bias = at::randn({8});
        auto bases = std::make_shared<TuckerBases>();
        bases->group = "g";
        bases->inBasis = at::randn({6, 3});
        bases->outBasis = at::randn({8, 5});
        auto tucker = std::make_shared<TuckerLinear>(bases, at::randn({5, 3}), bias, true);
        auto tt = std::make_shared<TTLinear>(std::vector<at::Tensor>{at::randn({1, 2, 2, 3}), at::randn({3, 4, 3, 1})}, bias);
        for (std::shared_ptr<LinearOp> base : {std::shared_ptr<LinearOp>(tucker), std::shared_ptr<LinearOp>(tt)}) {
            LoraLinear l(base, 2, 4.0, 3);
            *l.namedParameters()[1].second = at::randn({8, 2});
            auto merged = l.merge();
            at::Tensor x = at::randn({5, 6});
            QVERIFY(maxDiff(l.forward(x), merged->forward(x)) < 1e-4);
        }
    }

    void distillationFromItselfIsZero() {
        PhiModel s = loadTiny(), teacher = loadTiny();
        auto windows = randomWindows(4, 16, 12);
        Trainer t(s, windows, TrainOptions().withSteps(1).withBatch(2).withDistillation(2.0, 1.0), &teacher);
        auto r = t.run();
        QVERIFY2(std::fabs(r.losses[0]) < 1e-6, qPrintable(QString::number(r.losses[0])));
        // alpha = 0 is plain cross-entropy.
        at::NoGradGuard g;
        at::Tensor ids = at::tensor(windows[0], at::kLong).unsqueeze(0);
        ForwardArgs a;
        a.inputIds = ids;
        at::Tensor lt = teacher.forward(a), ls = s.forward(a);
        QVERIFY(std::fabs(distillationLoss(ls, lt, ids, 2.0, 0.0).item<double>() - causalLmLoss(ls, ids).item<double>()) < 1e-6);
        QVERIFY(distillationLoss(ls, lt, ids, 2.0, 1.0).item<double>() > 0);  // the student moved
    }

    void teacherTopKCacheMatchesTheLiveTeacher() {
        // With k = V the cached loss is the full KL (up to the fp16 storage of the logits).
        PhiModel teacher = loadTiny();
        auto windows = randomWindows(6, 16, 31);
        at::Tensor ids = at::tensor(windows[0], at::kLong).unsqueeze(0);
        at::Tensor ls = logitsOf(teacher, windows[0]) + 0.3 * at::randn({1, 16, 320}), lt = logitsOf(teacher, windows[0]);
        auto full = computeTeacherTopK(teacher, {windows[0]}, 320, 1);
        const double live = distillationLoss(ls, lt, ids, 2.0, 0.7).item<double>();
        const double cached = topKDistillationLoss(ls, full.values, full.indices, ids, 2.0, 0.7).item<double>();
        QVERIFY2(std::fabs(live - cached) < 1e-3 * std::fabs(live), qPrintable(QString("%1 vs %2").arg(live).arg(cached)));
        // The top-k are the k largest logits, in descending order.
        auto top4 = computeTeacherTopK(teacher, {windows[0]}, 4, 1);
        auto ref = at::topk(lt[0][5], 4);
        QVERIFY(at::equal(top4.indices[0][5].to(at::kLong), std::get<1>(ref)));
        QVERIFY(maxDiff(top4.values[0][5].to(at::kFloat), std::get<0>(ref)) < 1e-2);

        // A job with a cache file: computed from the teacher on the first run, reused without it.
        QTemporaryDir tmp;
        const std::string student = tmp.filePath("svd").toStdString();  // a student that differs from its teacher
        CompressOptions co;
        co.keepFraction = 0.5;
        compressModelDir(kTiny, student, co);
        auto jobWith = [&](const std::string& out, const std::string& teacherDir, const std::string& cacheFile) {
            TrainJob job;
            job.withStudent(student).withTeacher(teacherDir).withOut(tmp.filePath(QString::fromStdString(out)).toStdString()).withSteps(4);
            job.windows = windows;
            job.batch = 2;
            job.lr = 5e-3;
            job.seed = 3;
            job.alpha = 0.8;
            job.teacherCache = cacheFile;
            job.teacherTopK = 320;
            job.exportModel = false;
            return job;
        };
        const std::string cacheFile = tmp.filePath("teacher.safetensors").toStdString();
        auto liveRun = runTrainJob(jobWith("live", kTiny, ""));
        auto firstRun = runTrainJob(jobWith("first", kTiny, cacheFile));
        QVERIFY(fs::exists(cacheFile));
        auto reuseRun = runTrainJob(jobWith("reuse", "", cacheFile));  // no teacher at all
        QVERIFY2(std::fabs(liveRun.finalLoss - firstRun.finalLoss) < 2e-3 * std::fabs(liveRun.finalLoss) + 1e-5,
                 qPrintable(QString("%1 vs %2").arg(liveRun.finalLoss).arg(firstRun.finalLoss)));
        QCOMPARE(reuseRun.finalLoss, firstRun.finalLoss);
        // A cache of other windows, or another k, is refused naming the file.
        auto other = jobWith("other", "", cacheFile);
        other.windows = randomWindows(6, 16, 32);
        QString err;
        try {
            runTrainJob(other);
        } catch (const Error& e) {
            err = e.what();
        }
        QVERIFY2(err.startsWith(QString::fromStdString(cacheFile)) && err.contains("other training windows"), qPrintable(err));
        auto otherK = jobWith("otherk", "", cacheFile);
        otherK.teacherTopK = 8;
        QVERIFY(throwsError([&] { runTrainJob(otherK); }));
        QVERIFY(throwsError([&] { runTrainJob(jobWith("none", "", tmp.filePath("missing.safetensors").toStdString())); }));
    }

    void loraJobOnCompressedStudentExportsFactorized() {
        QTemporaryDir tmp;
        const std::string svd = tmp.filePath("svd").toStdString(), out = tmp.filePath("out").toStdString();
        CompressOptions co;
        co.keepFraction = 0.7;
        co.method = "svd";
        compressModelDir(kTiny, svd, co);
        PhiModel before = loadPhiModel(Checkpoint::open(svd));
        auto* lr0 = dynamic_cast<LowRankLinear*>(before.blocks[0].fc1.get());
        QVERIFY(lr0);
        TrainJob job;
        job.withStudent(svd).withTeacher(kTiny).withOut(out).withSteps(3).withLora(2);
        job.windows = randomWindows(6, 16, 21);
        job.evalWindows = randomWindows(2, 16, 22);
        job.batch = 2;
        job.lr = 1e-2;
        std::vector<std::string> stages;
        RunContext ctx([&](const Progress& p) { stages.push_back(p.stage); });
        TrainJobResult r = runTrainJob(job, ctx);
        QCOMPARE(r.step, std::int64_t(3));
        QVERIFY(!std::isnan(r.lastEvalLoss));  // scored after the last step
        QVERIFY(std::find(stages.begin(), stages.end(), "train") != stages.end());
        QVERIFY(fs::exists(fs::path(r.modelDir) / "compression.json"));
        PhiModel after = loadPhiModel(Checkpoint::open(r.modelDir));
        auto* lr1 = dynamic_cast<LowRankLinear*>(after.blocks[0].fc1.get());
        QVERIFY(lr1 && lr1->rank() == lr0->rank() + 2);  // LoRA folded in as extra rank
        QVERIFY(dynamic_cast<DenseLinear*>(after.lmHead.get()) || dynamic_cast<LowRankLinear*>(after.lmHead.get()));
        // A second run into the same DIR needs --resume.
        QVERIFY(throwsError([&] { runTrainJob(job); }));
    }

    void cliNeedsATokenizerForText() {
        const QString bin = QString(QCW_BIN_DIR) + "/qcompress";
        if (!QFileInfo::exists(bin)) QSKIP("qcompress is not built");
        QTemporaryDir tmp;
        QFile f(tmp.filePath("dataset.jsonl"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\"text\": \"hello world\"}\n");
        f.close();
        QProcess p;
        p.start(bin, {"train", "--student", QString::fromStdString(kTiny), "--out", tmp.filePath("out"), "--data", tmp.path()});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 1);
        QVERIFY(p.readAllStandardError().contains("tokenizer"));
    }

    void stopsEarlyOnEvalPatience() {
        PhiModel m = loadTiny();
        // min_delta so large that no evaluation counts as an improvement after the first.
        Trainer t(m, randomWindows(4, 16, 30), TrainOptions().withSteps(20).withBatch(2).withEval(1, 2, 1e9));
        t.setEvalWindows(randomWindows(2, 16, 31));
        std::vector<double> evals;
        RunContext ctx([&](const Progress& p) {
            if (p.metrics.count("eval_loss")) evals.push_back(p.metrics.at("eval_loss"));
            QVERIFY(p.metrics.count("tokens_per_s") && p.metrics.count("eta_s") && p.metrics.count("lr"));
        });
        auto r = t.run(ctx);
        QVERIFY(r.stoppedEarly);
        QCOMPARE(r.step, std::int64_t(3));
        QCOMPARE(evals.size(), std::size_t(3));
        QCOMPARE(r.bestEvalLoss, evals[0]);
    }

    void tiedHeadStaysTiedWhileTraining() {
        PhiModel m = loadTiny();
        m.config.tieWordEmbeddings = true;
        m.lmHead = std::make_shared<DenseLinear>(m.embedTokens, m.lmHead->bias());
        const std::size_t all = m.parameterSlots().size(), unique = m.parameters().size();
        QCOMPARE(all, unique + 1);  // lm_head.weight is the embedding
        Trainer t(m, randomWindows(4, 16, 40), TrainOptions().withSteps(2).withBatch(2).withLr(1e-2));
        t.run();
        auto& head = dynamic_cast<DenseLinear&>(*m.lmHead);
        QVERIFY(head.weight().unsafeGetTensorImpl() == m.embedTokens.unsafeGetTensorImpl());
        QVERIFY(m.embedTokens.requires_grad());
    }

    void rejectsBadInput() {
        PhiModel m = loadTiny();
        QVERIFY(throwsError([&] { Trainer t(m, {{1, 2, 3}, {1, 2}}, TrainOptions()); }));
        QVERIFY(throwsError([&] { Trainer t(m, {}, TrainOptions()); }));
        QVERIFY(throwsError([&] { applyLora(m, LoraOptions().withTargets({"nothing.matches"})); }));
    }
};

QTEST_APPLESS_MAIN(TestTrain)
#include "test_train.moc"
