// Evaluation against known answers: a model that predicts uniformly has perplexity equal to
// the vocabulary size; a model against itself agrees everywhere with KL 0; the sliding window
// scores every token once.
#include "common/error.h"
#include "eval/answers.h"
#include "eval/evaluate.h"
#include "eval/memorisation.h"
#include "eval/multiple_choice.h"
#include "tokenizer/tokenizer.h"
#include "model/engine.h"
#include "model/engine_impl.h"

#include <ATen/Parallel.h>
#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

#include <cmath>

using namespace qcw;

namespace {
const std::string kTiny = std::string(QCW_TEST_DATA) + "/tiny-phi";

std::vector<std::int64_t> stream(int n, int seed) {
    std::vector<std::int64_t> s;
    for (int i = 0; i < n; ++i) s.push_back((i * 37 + seed * 11 + i * i) % 320);
    return s;
}
}  // namespace

class TestEval : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { at::set_num_threads(2); }

    void uniformModelHasPerplexityOfVocabulary() {
        auto e = Engine::load(kTiny);
        auto& m = e->impl().model;
        m.lmHead = std::make_shared<DenseLinear>(at::zeros({320, 64}), at::zeros({320}));
        PerplexityOptions o;
        o.window = 16;
        o.stride = 5;
        auto r = perplexity(*e, {stream(100, 1), stream(7, 2)}, o);
        QVERIFY2(std::fabs(r.perplexity - 320.0) < 1e-3, qPrintable(QString::number(r.perplexity)));
        QCOMPARE(r.tokens, std::int64_t(99 + 6));  // every token but the first of each stream, once
    }

    void slidingWindowEqualsOnePassWhenItFits() {
        auto e = Engine::load(kTiny);
        PerplexityOptions whole;
        whole.window = 64;
        PerplexityOptions sliding;
        sliding.window = 64;
        sliding.stride = 64;
        auto s = stream(60, 3);
        QCOMPARE(perplexity(*e, {s}, whole).perplexity, perplexity(*e, {s}, sliding).perplexity);
        // Overlapping windows give more context, never fewer scored tokens.
        PerplexityOptions small;
        small.window = 16;
        small.stride = 8;
        QCOMPARE(perplexity(*e, {s}, small).tokens, std::int64_t(59));
    }

    void modelAgainstItselfAgreesWithZeroKl() {
        auto a = Engine::load(kTiny);
        auto b = Engine::load(kTiny);
        auto r = teacherAgreement(*a, *b, {stream(50, 4), stream(30, 5)});
        QCOMPARE(r.top1, 1.0);
        QVERIFY(std::fabs(r.klPerToken) < 1e-6);
        QCOMPARE(r.tokens, std::int64_t(49 + 29));
        // A different model disagrees somewhere and has positive KL.
        b->impl().model.lmHead = std::make_shared<DenseLinear>(at::zeros({320, 64}), at::zeros({320}));
        auto d = teacherAgreement(*a, *b, {stream(50, 4)});
        QVERIFY(d.klPerToken > 0.01);
    }

    void riggedLogitsMakeMultipleChoicePickTheRightAnswer() {
        // A tokenizer in which " blue", " green", " red" and " yellow" are single tokens.
        std::string corpus;
        for (int i = 0; i < 50; ++i) corpus += "Answer: red blue green yellow. ";
        BpeTrainerOptions to;
        to.vocabSize = 300;
        auto tok = trainBpe({corpus}, to).tokenizer;
        const int blue = tok->encodeIds(" blue").at(0), green = tok->encodeIds(" green").at(0);
        QCOMPARE(tok->encodeIds(" blue").size(), std::size_t(1));
        QCOMPARE(tok->encodeIds(" green").size(), std::size_t(1));
        // A model whose logits favour exactly those two tokens.
        auto e = Engine::load(kTiny);
        at::Tensor bias = at::zeros({320});
        bias[blue] = 20.0;
        bias[green] = 20.0;
        e->impl().model.lmHead = std::make_shared<DenseLinear>(at::zeros({320, 64}), bias);
        std::vector<McItem> items = {{"Which colour?", {"red", "blue"}, 1},
                                     {"Which other colour?", {"green", "yellow", "red"}, 0},
                                     {"And this one?", {"red", "yellow", "blue"}, 1}};  // the model will say blue
        auto r = multipleChoice(*e, *tok, items);
        QCOMPARE(r.count, std::int64_t(3));
        QCOMPARE(r.predictions, (std::vector<int>{1, 0, 2}));
        QVERIFY(std::fabs(r.accuracy - 2.0 / 3.0) < 1e-12);
    }

    void multipleChoiceFileErrorsNameTheLine() {
        const QString path = QString(QCW_TEST_DATA) + "/domain-mc.jsonl";
        auto items = loadMultipleChoice(path.toStdString());
        QVERIFY(items.size() >= 60);
        QTemporaryDir tmp;
        const std::string bad = tmp.filePath("bad.jsonl").toStdString();
        std::ofstream(bad) << "{\"question\":\"q\",\"choices\":[\"a\",\"b\"],\"answer\":0}\n{\"question\":\"q\",\"choices\":[\"a\"],\"answer\":0}\n";
        try {
            loadMultipleChoice(bad);
            QFAIL("expected an error");
        } catch (const Error& err) {
            QVERIFY2(QString(err.what()).startsWith(QString::fromStdString(bad + ":2:")), err.what());
        }
    }

    void unigramBaselineByHand() {
        // Counts with add-one smoothing over 4 ids: [1+1, 1+2, 1+1, 1+0] = [2, 3, 2, 1] of 8.
        auto r = unigramPerplexity({{0, 1, 1, 2}}, {{1, 2, 1}, {3}}, 4);
        QCOMPARE(r.tokens, std::int64_t(2));  // the first token of each stream is not scored
        const double nll = -(std::log(2.0 / 8.0) + std::log(3.0 / 8.0)) / 2.0;
        QVERIFY(std::fabs(r.meanNll - nll) < 1e-12);
        QVERIFY(std::fabs(r.perplexity - std::exp(nll)) < 1e-9);
        // With no training counts it is the uniform distribution: perplexity = vocabulary size.
        QVERIFY(std::fabs(unigramPerplexity({}, {stream(50, 4)}, 320).perplexity - 320.0) < 1e-9);
        bool threw = false;
        try {
            unigramPerplexity({{0, 7}}, {{1, 2}}, 4);
        } catch (const Error& err) {
            threw = QString(err.what()).contains("token id 7");
        }
        QVERIFY(threw);
    }

    void memorisationProbeCatchesARiggedLeak() {
        // A tokenizer and a model rigged to emit runs of 'z' after any prompt: the secret made of
        // z's leaks, the others do not, and the partial one shows its shared prefix.
        std::string corpus;
        for (int i = 0; i < 60; ++i) corpus += "the key is zzzzzzzz and qqqq, notes zzq. ";
        BpeTrainerOptions to;
        to.vocabSize = 300;
        auto tok = trainBpe({corpus}, to).tokenizer;
        const int z = tok->encodeIds("zzzzzzzz").at(0);
        QVERIFY(tok->decode({z}).find_first_not_of('z') == std::string::npos);
        auto e = Engine::load(kTiny);
        at::Tensor bias = at::zeros({320});
        bias[z] = 30.0;
        e->impl().model.lmHead = std::make_shared<DenseLinear>(at::zeros({320, 64}), bias);

        QTemporaryDir tmp;
        QDir(tmp.path()).mkpath("corpus/notes");
        const std::string root = tmp.filePath("corpus").toStdString();
        std::ofstream(root + "/notes/a.txt") << "Config notes. The admin password is zzzzzzzz, backup qqqq, legacy zzq.\n";
        const std::string secrets = tmp.filePath("secrets.jsonl").toStdString();
        std::ofstream(secrets) << "{\"file\":\"notes/a.txt\",\"kind\":\"password\",\"secret\":\"zzzzzzzz\"}\n"
                               << "{\"file\":\"notes/a.txt\",\"secret\":\"qqqq\"}\n\n"
                               << "{\"file\":\"notes/a.txt\",\"secret\":\"zzq\"}\n";
        auto items = loadProbeItems(secrets, root);
        QCOMPARE(items.size(), std::size_t(3));
        QCOMPARE(items[0].context, std::string("Config notes. The admin password is "));
        QCOMPARE(items[0].id, std::string("notes/a.txt (password)"));
        ProbeOptions small;
        small.contextChars = 10;
        QCOMPARE(loadProbeItems(secrets, root, small)[0].context, std::string("ssword is "));  // 10 bytes back
        auto r = probeMemorisation(*e, *tok, items);
        QCOMPARE(r.items.size(), std::size_t(3));
        QVERIFY2(r.items[0].leaked, r.items[0].completion.c_str());
        QVERIFY(!r.items[1].leaked);
        QCOMPARE(r.items[1].prefixChars, std::size_t(0));
        QVERIFY(!r.items[2].leaked);
        QCOMPARE(r.items[2].prefixChars, std::size_t(2));
        QCOMPARE(r.leaked, std::size_t(1));
        QCOMPARE(r.longestPrefix, std::size_t(8));

        // The probe never tests less than it claims: a secret not in its file, or a file outside
        // the corpus, is an error naming the line.
        auto errorOf = [&](const std::string& line) {
            std::ofstream(secrets) << "{\"file\":\"notes/a.txt\",\"secret\":\"qqqq\"}\n" << line << "\n";
            try {
                loadProbeItems(secrets, root);
            } catch (const Error& err) {
                return QString(err.what());
            }
            return QString();
        };
        QString err = errorOf("{\"file\":\"notes/a.txt\",\"secret\":\"not-there\"}");
        QVERIFY2(err.startsWith(QString::fromStdString(secrets + ":2:")) && err.contains("does not occur"), qPrintable(err));
        err = errorOf("{\"file\":\"../secrets.jsonl\",\"secret\":\"qqqq\"}");
        QVERIFY2(err.contains("outside"), qPrintable(err));
        err = errorOf("{\"file\":\"notes/a.txt\"}");
        QVERIFY2(err.contains("\"secret\""), qPrintable(err));
        QCOMPARE(sharedPrefix("abcx", "abcd"), std::size_t(3));
    }

    void answersByExactMatchAndRougeL() {
        QCOMPARE(normalizeAnswer("  The Cat,  sat!"), std::string("cat sat"));
        QVERIFY(exactMatch("The cat.", "cat"));
        QVERIFY(!exactMatch("cats", "cat"));
        // "cat sat on mat" against "cat was on mat": LCS 3 of 4 words each way -> F1 0.75.
        QVERIFY(std::fabs(rougeL("the cat sat on the mat", "a cat was on the mat") - 0.75) < 1e-12);
        QCOMPARE(rougeL("x y", "p q"), 0.0);
        QCOMPARE(rougeL("a b c", "a b c"), 1.0);
        // LCS is a subsequence, not a substring: "p x q y r" vs "p q r" -> P 3/5, R 1 -> 0.75.
        QVERIFY(std::fabs(rougeL("p x q y r", "p q r") - 0.75) < 1e-12);

        // A model rigged to say " blue" forever answers "blue blue blue" to everything.
        std::string corpus;
        for (int i = 0; i < 50; ++i) corpus += "Answer: red blue green yellow. ";
        BpeTrainerOptions to;
        to.vocabSize = 300;
        auto tok = trainBpe({corpus}, to).tokenizer;
        const int blue = tok->encodeIds(" blue").at(0);
        auto e = Engine::load(kTiny);
        at::Tensor bias = at::zeros({320});
        bias[blue] = 30.0;
        e->impl().model.lmHead = std::make_shared<DenseLinear>(at::zeros({320, 64}), bias);
        AnswerOptions o;
        o.maxNewTokens = 3;
        auto r = answerQuestions(*e, *tok, {{"Which colour?", "Blue blue blue."}, {"And now?", "red"}, {"Twice?", "blue blue"}}, o);
        QCOMPARE(r.count, std::int64_t(3));
        QCOMPARE(r.answers[0], std::string(" blue blue blue"));
        QVERIFY(std::fabs(r.exactMatch - 1.0 / 3.0) < 1e-12);
        QVERIFY(std::fabs(r.rougeL - (1.0 + 0.0 + 0.8) / 3.0) < 1e-12);  // 2 of 3 words: P 2/3, R 1 -> 0.8

        QTemporaryDir tmp;
        const std::string f = tmp.filePath("qa.jsonl").toStdString();
        std::ofstream(f) << "{\"text\":\"chunk\"}\n{\"prompt\":\"p\",\"completion\":\"c\"}\n{\"question\":\"q\",\"answer\":\"a\"}\n";
        auto items = loadQaItems(f);
        QCOMPARE(items.size(), std::size_t(2));
        QCOMPARE(items[1].reference, std::string("a"));
        QCOMPARE(loadQaItems(f, 1).size(), std::size_t(1));
        std::ofstream(f) << "{\"text\":\"only chunks\"}\n";
        bool threw = false;
        try {
            loadQaItems(f);
        } catch (const Error& err) {
            threw = QString(err.what()).contains("no prompt/completion");
        }
        QVERIFY(threw);
    }

    void badInputs() {
        auto e = Engine::load(kTiny);
        bool threw = false;
        try {
            perplexity(*e, {{5}});
        } catch (const Error& err) {
            threw = QString(err.what()).contains("too short");
        }
        QVERIFY(threw);
        threw = false;
        try {
            perplexity(*e, {{5, 400}});
        } catch (const Error& err) {
            threw = QString(err.what()).contains("token id 400");
        }
        QVERIFY(threw);
    }
};

QTEST_APPLESS_MAIN(TestEval)
#include "test_eval.moc"
