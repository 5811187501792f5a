// Continuous batching against its oracle, Engine::generate on one prompt: whatever joins or
// leaves the batch, and whenever, each request gets token for token what it gets alone
// (greedy, and seeded sampling). The paths that move the shared cache (a longer prompt
// joining: shift right; the shared slot reaching the context's end: shift left) are each
// driven and counted. Stopping a request frees its row; stop() ends the waiting ones.
#include "common/error.h"
#include "model/engine.h"
#include "serve/batcher.h"

#include <QtTest>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

using qcw::GenerateOptions;
using qcw::serve::ContinuousBatcher;

namespace {

std::vector<std::int64_t> prompt(int length, int salt) {
    std::vector<std::int64_t> p;
    for (int i = 0; i < length; ++i) p.push_back((7 + 37 * i + 101 * salt) % 300 + 3);
    return p;
}

GenerateOptions greedy(int maxNew) {
    GenerateOptions g;
    g.maxNewTokens = maxNew;
    g.greedy = true;
    g.stopAtEos = false;
    return g;
}

// Signals once a request has produced `n` tokens.
struct Gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
    void release() {
        {
            std::lock_guard<std::mutex> l(m);
            open = true;
        }
        cv.notify_all();
    }
    void wait() {
        std::unique_lock<std::mutex> l(m);
        cv.wait(l, [&] { return open; });
    }
};

}  // namespace

class TestServeBatch : public QObject {
    Q_OBJECT
    std::unique_ptr<qcw::Engine> engine_;

    std::vector<std::int64_t> alone(const std::vector<std::int64_t>& p, const GenerateOptions& g) {
        auto out = engine_->generate({p}, g)[0];
        return std::vector<std::int64_t>(out.begin() + static_cast<long>(p.size()), out.end());
    }

private slots:
    void initTestCase() {
        qcw::EngineOptions o;
        o.threads = 2;
        engine_ = qcw::Engine::load(QCW_TEST_DATA "/tiny-phi", o);
        QCOMPARE(engine_->config().maxPositions, 128);
    }

    void oneRequestEqualsGenerate() {
        ContinuousBatcher b(*engine_, 4);
        const auto p = prompt(9, 0);
        std::vector<std::int64_t> got;
        b.run(p, greedy(40), [&](std::int64_t t) {
            got.push_back(t);
            return true;
        });
        QCOMPARE(got, alone(p, greedy(40)));
        GenerateOptions s = greedy(40);
        s.sampling(0.9, 0, 0.95).withSeed(11);
        got.clear();
        b.run(p, s, [&](std::int64_t t) {
            got.push_back(t);
            return true;
        });
        QCOMPARE(got, alone(p, s));
    }

    // A short prompt runs; a longer one joins while the shared slot is still below its length
    // (shift right); a third joins late enough that the slot runs into the context's end while
    // it is still going (shift left). Every answer equals its answer alone.
    void joinsAndLeavesKeepEveryAnswer() {
        ContinuousBatcher b(*engine_, 4);
        struct Job {
            std::vector<std::int64_t> p;
            GenerateOptions g;
            std::vector<std::int64_t> got;
        };
        GenerateOptions sampled = greedy(60);
        sampled.sampling(0.8, 0, 0.9).withSeed(5);
        std::vector<Job> jobs = {{prompt(4, 1), greedy(118), {}},   // 122 of 128 positions
                                 {prompt(70, 2), greedy(50), {}},   // joins when the slot is near 10
                                 {prompt(6, 3), sampled, {}}};      // joins after job 0's 40th token
        Gate second, third;
        // The batch thread waits (at most 10 s) after job 0's 5th and 40th steps until the next
        // job is queued, so each join lands where the test wants it however fast the steps run.
        std::atomic<int> joined{1};
        b.setAfterStepForTest([&](std::int64_t step) {
            const int want = step == 5 ? 2 : step == 40 ? 3 : 0;
            if (!want) return;
            const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (joined.load() < want && std::chrono::steady_clock::now() < until)
                std::this_thread::sleep_for(std::chrono::microseconds(200));
            while (b.pendingCount() == 0 && std::chrono::steady_clock::now() < until)
                std::this_thread::sleep_for(std::chrono::microseconds(200));
        });
        std::mutex errM;
        QStringList errors;
        auto guarded = [&](auto f) {
            try {
                f();
            } catch (const std::exception& e) {
                std::lock_guard<std::mutex> l(errM);
                errors << e.what();
            }
        };
        std::thread t0([&] { guarded([&] {
            b.run(jobs[0].p, jobs[0].g, [&](std::int64_t t) {
                jobs[0].got.push_back(t);
                if (jobs[0].got.size() == 5) second.release();
                if (jobs[0].got.size() == 40) third.release();
                return true;
            });
            second.release();  // never left waiting, even when the run fails early
            third.release();
        }); });
        second.wait();
        joined = 2;
        std::thread t1([&] { guarded([&] {
            b.run(jobs[1].p, jobs[1].g, [&](std::int64_t t) {
                jobs[1].got.push_back(t);
                return true;
            });
        }); });
        third.wait();
        joined = 3;
        std::thread t2([&] { guarded([&] {
            b.run(jobs[2].p, jobs[2].g, [&](std::int64_t t) {
                jobs[2].got.push_back(t);
                return true;
            });
        }); });
        t0.join();
        t1.join();
        t2.join();
        QVERIFY2(errors.isEmpty(), qPrintable(errors.join("; ")));
        for (auto& j : jobs) QCOMPARE(j.got, alone(j.p, j.g));
        qInfo("steps %lld, row-steps %lld, most rows %d, right shifts %lld, compactions %lld",
              static_cast<long long>(b.steps()), static_cast<long long>(b.rowSteps()), b.maxRowsSeen(),
              static_cast<long long>(b.rightShifts()), static_cast<long long>(b.compactions()));
        QVERIFY(b.maxRowsSeen() >= 2);
        QVERIFY(b.rowSteps() > b.steps());  // steps carried several rows at once
        QVERIFY(b.rightShifts() >= 1);
        QVERIFY(b.compactions() >= 1);
    }

    void manyAtOnceOverFewRows() {
        ContinuousBatcher b(*engine_, 3);
        std::vector<std::vector<std::int64_t>> got(8);
        std::vector<std::thread> ts;
        std::atomic<int> failures{0};
        for (int i = 0; i < 8; ++i)
            ts.emplace_back([&, i] {
                try {
                    b.run(prompt(3 + 5 * i, 10 + i), greedy(20 + 3 * i), [&, i](std::int64_t t) {
                        got[static_cast<std::size_t>(i)].push_back(t);
                        return true;
                    });
                } catch (const std::exception&) {
                    ++failures;
                }
            });
        for (auto& t : ts) t.join();
        QCOMPARE(failures.load(), 0);
        for (int i = 0; i < 8; ++i) QCOMPARE(got[static_cast<std::size_t>(i)], alone(prompt(3 + 5 * i, 10 + i), greedy(20 + 3 * i)));
        QVERIFY(b.maxRowsSeen() <= 3);
    }

    void stoppingARequestFreesItsRow() {
        ContinuousBatcher b(*engine_, 1);
        std::vector<std::int64_t> got;
        b.run(prompt(5, 4), greedy(100), [&](std::int64_t t) {
            got.push_back(t);
            return got.size() < 3;
        });
        QCOMPARE(got.size(), std::size_t(3));
        const auto before = b.rowSteps();
        QVERIFY(before < 100);
        // The only row is free again: the next request runs to its end.
        std::vector<std::int64_t> next;
        b.run(prompt(5, 5), greedy(10), [&](std::int64_t t) {
            next.push_back(t);
            return true;
        });
        QCOMPARE(next, alone(prompt(5, 5), greedy(10)));
    }

    void badPromptIsAnErrorNotACrash() {
        ContinuousBatcher b(*engine_, 2);
        const QString e = [&] {
            try {
                b.run(prompt(100, 6), greedy(50), {});
            } catch (const qcw::Error& err) {
                return QString(err.what());
            }
            return QString();
        }();
        QVERIFY2(e.contains("128"), qPrintable(e));
        std::vector<std::int64_t> got;
        b.run(prompt(5, 6), greedy(4), [&](std::int64_t t) {
            got.push_back(t);
            return true;
        });
        QCOMPARE(got.size(), std::size_t(4));
    }

    void stopEndsRunningRequests() {
        auto b = std::make_unique<ContinuousBatcher>(*engine_, 2);
        Gate started;
        std::atomic<bool> cancelled{false};
        std::thread t([&] {
            try {
                b->run(prompt(5, 7), greedy(120), [&](std::int64_t) {
                    started.release();
                    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // a slow reader
                    return true;
                });
            } catch (const qcw::Cancelled&) {
                cancelled = true;
            }
        });
        started.wait();
        b->stop();
        t.join();
        QVERIFY(cancelled);
        QVERIFY_EXCEPTION_THROWN(b->run(prompt(5, 7), greedy(3), {}), qcw::Cancelled);
    }
};

QTEST_GUILESS_MAIN(TestServeBatch)
#include "test_serve_batch.moc"
