#include "hub/hub_cache.h"

#include "common/error.h"
#include "common/files.h"
#include "common/run_context.h"
#include "hub/hub_pull.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace fs = std::filesystem;

namespace qcw::hub {

namespace {

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

bool validPart(const std::string& s) {
    if (s.empty() || s.size() > 96) return false;
    if (s.front() == '.' || s.front() == '-' || s.find("..") != std::string::npos) return false;
    return std::all_of(s.begin(), s.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_' || c == '.';
    });
}

bool validRevision(const std::string& s) {
    if (s.empty() || s.size() > 200 || s.front() == '/' || s.find("..") != std::string::npos) return false;
    return std::all_of(s.begin(), s.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '/';
    });
}

std::string trim(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    std::size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    return s.substr(i);
}

std::string readRef(const fs::path& p) {
    std::error_code ec;
    if (!fs::is_regular_file(p, ec) || fs::file_size(p, ec) > 256) return {};
    std::ifstream in(p);
    std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return trim(s);
}

}  // namespace

std::optional<RepoRef> parseRepoRef(const std::string& s) {
    std::string body = s, rev = "main";
    const auto at = s.find('@');
    if (at != std::string::npos) {
        body = s.substr(0, at);
        rev = s.substr(at + 1);
        if (!validRevision(rev)) return std::nullopt;
    }
    const auto slash = body.find('/');
    if (slash == std::string::npos || body.find('/', slash + 1) != std::string::npos) return std::nullopt;
    if (!validPart(body.substr(0, slash)) || !validPart(body.substr(slash + 1))) return std::nullopt;
    return RepoRef{body, rev};
}

RepoRef requireRepoRef(const std::string& s) {
    auto r = parseRepoRef(s);
    if (!r) fail(s, "is not a Hugging Face repository id (expected ORG/NAME or ORG/NAME@REVISION)");
    return *r;
}

bool isCommitHash(const std::string& rev) {
    return rev.size() == 40 && std::all_of(rev.begin(), rev.end(), [](unsigned char c) {
               return std::isdigit(c) || (c >= 'a' && c <= 'f');
           });
}

std::string cacheDir() {
    for (const char* v : {"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"})
        if (auto s = env(v); !s.empty()) return s;
    if (auto h = env("HF_HOME"); !h.empty()) return (fs::path(h) / "hub").string();
    if (auto x = env("XDG_CACHE_HOME"); !x.empty()) return (fs::path(x) / "huggingface" / "hub").string();
    auto home = env("HOME");
    if (home.empty()) home = "/";
    return (fs::path(home) / ".cache" / "huggingface" / "hub").string();
}

std::string repoFolderName(const std::string& repo) {
    std::string out = "models--";
    for (char c : repo) {
        if (c == '/') out += "--";
        else out += c;
    }
    return out;
}

std::string repoFolder(const std::string& repo, const std::string& cache) {
    return (fs::path(cache) / repoFolderName(repo)).string();
}

bool offlineMode() {
    for (const char* v : {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"}) {
        std::string s = env(v);
        std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
        if (s == "1" || s == "true" || s == "yes" || s == "on") return true;
    }
    return false;
}

std::string endpoint() {
    std::string e = env("HF_ENDPOINT");
    if (e.empty()) e = "https://huggingface.co";
    while (!e.empty() && e.back() == '/') e.pop_back();
    return e;
}

std::string token(const std::string& given) {
    if (!given.empty()) return given;
    for (const char* v : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"})
        if (auto s = trim(env(v)); !s.empty()) return s;
    std::string home = env("HF_HOME");
    fs::path file = !home.empty() ? fs::path(home) / "token"
                                  : fs::path(env("HOME").empty() ? "/" : env("HOME")) / ".cache" / "huggingface" / "token";
    if (auto t = env("HF_TOKEN_PATH"); !t.empty()) file = t;
    std::error_code ec;
    if (fs::is_regular_file(file, ec) && fs::file_size(file, ec) < 4096) return trim(readTextFile(file.string()));
    return {};
}

std::optional<std::string> cachedCommit(const RepoRef& ref, const std::string& cache) {
    const fs::path repo = repoFolder(ref.repo, cache);
    std::error_code ec;
    if (isCommitHash(ref.revision) && fs::is_directory(repo / "snapshots" / ref.revision, ec)) return ref.revision;
    std::string commit = readRef(repo / "refs" / ref.revision);
    if (!isCommitHash(commit)) return std::nullopt;
    return commit;
}

std::optional<std::string> cachedSnapshot(const RepoRef& ref, const std::string& cache) {
    auto commit = cachedCommit(ref, cache);
    if (!commit) return std::nullopt;
    const fs::path snap = fs::path(repoFolder(ref.repo, cache)) / "snapshots" / *commit;
    std::error_code ec;
    // exists() follows the symlink: a config.json whose blob is gone does not count.
    if (!fs::exists(snap / "config.json", ec)) return std::nullopt;
    return snap.string();
}

std::vector<CachedModel> listCachedModels(const std::string& cache, bool phiOnly) {
    std::vector<CachedModel> out;
    std::error_code ec;
    if (!fs::is_directory(cache, ec)) return out;
    for (const auto& entry : fs::directory_iterator(cache, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("models--", 0) != 0 || !entry.is_directory(ec)) continue;
        std::string repo = name.substr(8);
        const auto sep = repo.find("--");
        if (sep != std::string::npos) repo = repo.substr(0, sep) + "/" + repo.substr(sep + 2);
        // Which ref points at which commit.
        std::vector<std::pair<std::string, std::string>> refs;
        const fs::path refsDir = entry.path() / "refs";
        if (fs::is_directory(refsDir, ec))
            for (const auto& r : fs::recursive_directory_iterator(refsDir, ec))
                if (r.is_regular_file(ec))
                    refs.emplace_back(fs::relative(r.path(), refsDir, ec).generic_string(), readRef(r.path()));
        const fs::path snaps = entry.path() / "snapshots";
        if (!fs::is_directory(snaps, ec)) continue;
        for (const auto& s : fs::directory_iterator(snaps, ec)) {
            try {
                CachedModel m;
                m.repo = repo;
                m.commit = s.path().filename().string();
                m.path = s.path().string();
                m.revision = m.commit;
                for (const auto& [rname, rcommit] : refs)
                    if (rcommit == m.commit) { m.revision = rname; break; }
                const fs::path cfg = s.path() / "config.json";
                if (!fs::exists(cfg, ec)) continue;
                auto j = nlohmann::json::parse(readTextFile(cfg.string(), 1 << 20), nullptr, false);
                if (j.is_discarded() || !j.is_object()) continue;
                std::string arch;
                if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() &&
                    j["architectures"][0].is_string())
                    arch = j["architectures"][0].get<std::string>();
                const std::string type = j.value("model_type", std::string());
                m.architecture = arch.empty() ? type : arch;
                const bool phi = type == "phi" || arch.rfind("Phi", 0) == 0;
                if (phiOnly && !phi) continue;
                for (const auto& f : fs::recursive_directory_iterator(s.path(), ec)) {
                    if (!fs::is_regular_file(f.path(), ec)) continue;  // follows the blob symlink
                    m.bytes += static_cast<std::int64_t>(fs::file_size(f.path(), ec));
                    if (f.path().extension() == ".safetensors") m.hasWeights = true;
                }
                out.push_back(std::move(m));
            } catch (const std::exception&) {
                // An unreadable snapshot is not listed.
            }
        }
    }
    std::sort(out.begin(), out.end(), [](const CachedModel& a, const CachedModel& b) {
        return a.repo != b.repo ? a.repo < b.repo : a.revision < b.revision;
    });
    return out;
}

std::string resolveModelArg(const std::string& arg, RunContext& ctx) {
    std::error_code ec;
    if (arg.empty() || fs::exists(arg, ec)) return arg;
    auto ref = parseRepoRef(arg);
    if (!ref) return arg;
    const std::string cache = cacheDir();
    if (auto snap = cachedSnapshot(*ref, cache)) return *snap;
    if (offlineMode())
        fail(arg, "is neither a folder nor in the Hugging Face cache " + cache +
                      ", and HF_HUB_OFFLINE=1 forbids downloading it");
    std::cerr << "qcompress: " << arg << " is not in the Hugging Face cache " << cache << "; pulling it from "
              << endpoint() << std::endl;
    PullOptions opts;
    return pull(*ref, opts, ctx).snapshot;
}

}  // namespace qcw::hub
