// bench_data: throughput of the corporate data processor (read + scrub + parse + pairs +
// dedup + chunk, no output writing) in MB/s.
//
//   bench_data [DIR] [--repeat N]
//
// DIR defaults to resources/corpus. A second figure is measured on large documents (the
// corpus text repeated into ~8 MB files) so per-byte costs show without per-file overhead.
#include "data/data.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::string cpuModel() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("model name", 0) == 0) {
            auto c = line.find(':');
            return c == std::string::npos ? line : line.substr(c + 2);
        }
    return "unknown";
}

struct Run {
    double seconds = 0;
    std::uint64_t bytes = 0;
    int files = 0;
    std::size_t records = 0;
    int redactions = 0;
};

Run measure(const std::string& dir, int repeat) {
    std::vector<Run> runs;
    auto opts = qcw::DataOptions().addExclude("PLANTED_SECRETS.jsonl");
    for (int i = 0; i < repeat; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        auto res = qcw::buildDataset({dir}, opts);
        Run r;
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        r.bytes = res.bytesRead;
        r.files = res.filesRead;
        r.records = res.records.size();
        for (const auto& [k, v] : res.redactions) r.redactions += v;
        runs.push_back(r);
    }
    std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) { return a.seconds < b.seconds; });
    return runs[runs.size() / 2];  // median
}

void print(const char* label, const Run& r) {
    std::printf("%-28s %3d files %8.2f MB %7zu records %5d redactions %8.3f s  %7.2f MB/s\n", label, r.files,
                double(r.bytes) / 1e6, r.records, r.redactions, r.seconds, r.seconds > 0 ? double(r.bytes) / 1e6 / r.seconds : 0.0);
}

}  // namespace

int main(int argc, char** argv) {
    std::string dir = std::string(QCW_SOURCE_DIR) + "/resources/corpus";
    int repeat = 5;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--repeat" && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
        else if (a == "--help" || a == "-h") {
            std::printf("usage: bench_data [DIR] [--repeat N]\n");
            return 0;
        } else dir = a;
    }
    if (!fs::is_directory(dir)) {
        std::fprintf(stderr, "bench_data: %s: not a directory\n", dir.c_str());
        return 1;
    }
    struct utsname u {};
    ::uname(&u);
    std::printf("machine: %s %s %s %s\n", u.sysname, u.release, u.version, u.machine);
    std::printf("cpu: %s, %ld online cores (the data processor runs on one)\n", cpuModel().c_str(), ::sysconf(_SC_NPROCESSORS_ONLN));
    std::printf("input: %s, median of %d runs\n", dir.c_str(), repeat);
    try {
        print("corpus (as is)", measure(dir, repeat));

        // Large documents: every readable text of the corpus concatenated, repeated to ~8 MB.
        std::string text, config;
        for (const auto& e : fs::recursive_directory_iterator(dir)) {
            if (!e.is_regular_file()) continue;
            auto ext = e.path().extension().string();
            std::ifstream in(e.path(), std::ios::binary);
            std::stringstream s;
            s << in.rdbuf();
            if (ext == ".conf") config += s.str() + "\n";
            else if (ext == ".md" || ext == ".txt") text += s.str() + "\n";
        }
        fs::path tmp = fs::temp_directory_path() / ("bench_data_" + std::to_string(::getpid()));
        fs::create_directories(tmp);
        auto grow = [](const std::string& s) {
            std::string r;
            if (s.empty()) return r;
            while (r.size() < (8u << 20)) r += s;
            return r;
        };
        { std::ofstream(tmp / "big-notes.md", std::ios::binary) << grow(text); }
        { std::ofstream(tmp / "big-config.conf", std::ios::binary) << grow(config); }
        print("large documents (2 x 8 MB)", measure(tmp.string(), std::min(repeat, 3)));
        fs::remove_all(tmp);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_data: %s\n", e.what());
        return 1;
    }
    return 0;
}
